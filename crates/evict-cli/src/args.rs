//! Command-line arguments. Doc comments here are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Evict proves an attacker's access is gone: it inventories every identity and credential,
/// finds what must be revoked after a breach, revokes it, and keeps tamper-evident evidence.
///
/// The store is SQLite under $EVICT_HOME (default ./.evict), or PostgreSQL when
/// EVICT_DATABASE_URL is a postgres:// URL.
///
/// Exit codes: 0 success; 1 done, but something needs attention (rejected rows, a broken
/// journal, findings or hunt hits, skipped input); 2 usage, input or store error.
#[derive(Debug, Parser)]
#[command(
    name = "evict",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// No progress bars or notes on stderr; errors are still printed.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Treat this time as "now" for ages and "unused for N days" (RFC 3339); for reproducible
    /// reports and tests.
    #[arg(long, global = true, env = "EVICT_NOW", hide = true)]
    pub now: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// JSON for programs (one document on stdout).
    Json,
    /// SARIF 2.1.0 for code-scanning services (`evict scan` only).
    Sarif,
    /// Markdown (`evict incident plan` only).
    Md,
    /// A self-contained HTML page (`evict incident plan` only).
    Html,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import identities and credentials from an inventory source.
    #[command(subcommand)]
    Import(ImportCommand),
    /// List, show and count what the store knows.
    #[command(subcommand)]
    Inventory(InventoryCommand),
    /// Check the evidence journal.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Find secrets in files, archives, git history and chat exports; one finding per secret,
    /// with every place it was seen. Exit 1 when findings at or above --fail-on exist.
    Scan(ScanArgs),
    /// Hunt audit logs (CloudTrail, Okta, GitHub, JSON lines) for the footholds an attacker made
    /// and for every use of a credential that should be dead. Exit 1 when anything is found.
    Hunt(HuntArgs),
    /// Validate the detection rules and run their examples, or list them.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Open an incident (exposure window, scope, indicators) and follow it: scope changes,
    /// list, show. Every change is a journal entry.
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// Refresh the inventory from a live provider through its connector (configured in
    /// $EVICT_HOME/connectors.toml or --config; secrets come from the environment or files the
    /// configuration names, never from the command line).
    Sync(SyncArgs),
    /// The installation's report-signing key (ed25519).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check a signed report.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Run the whole story on a generated organisation, offline, in a fresh temporary store;
    /// with --live, on real local servers the demo starts and stops itself.
    Demo(DemoArgs),
    /// Generate synthetic test data (credential report, inventory, audit logs) for trials and
    /// benchmarks.
    #[command(hide = true)]
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct HuntArgs {
    /// Log files or folders: CloudTrail S3 objects ({"Records":[…]}, .json.gz) or the
    /// AWSLogs/… tree, JSON arrays and JSON lines; gzip is detected by content.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Also run the Sigma rules in DIR (repeatable).
    #[arg(long, value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Run only the rules given with --rules (and the built-in window and indicator hunts).
    #[arg(long)]
    pub no_default_rules: bool,
    /// Leave out the shipped SigmaHQ rules (Evict's own pack still runs).
    #[arg(long)]
    pub no_sigmahq: bool,
    /// The log source, when it cannot be recognised from the records.
    #[arg(long, value_name = "cloudtrail|okta|github|jsonl")]
    pub source: Option<String>,
    /// Field mapping for --source jsonl (docs/log-mapping.md).
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Ignore events before this time (RFC 3339, or a date: 2026-05-22).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Ignore events at or after this time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// When the attacker got in (or the earliest time they may have).
    #[arg(long, value_name = "TIME")]
    pub compromised_at: Option<String>,
    /// When the hole was closed.
    #[arg(long, value_name = "TIME")]
    pub patched_at: Option<String>,
    /// An attacker IP address or network (repeatable).
    #[arg(long = "ioc-ip", value_name = "IP[/PREFIX]")]
    pub ioc_ip: Vec<String>,
    /// An attacker user agent, matched as a case-insensitive substring (repeatable).
    #[arg(long = "ioc-ua", value_name = "TEXT")]
    pub ioc_ua: Vec<String>,
    /// Run only Sigma rules of at least this severity. SigmaHQ's low rules (every ListBuckets,
    /// every failed console login) are noise after a breach; `--min-severity low` runs them.
    #[arg(
        long,
        value_name = "info|low|medium|high|critical",
        default_value = "medium"
    )]
    pub min_severity: String,
    /// Hits listed (and stored) per rule, the earliest first; every hit is still counted.
    /// 0 lists all.
    #[arg(long, value_name = "N", default_value_t = evict_logs::hunt::DEFAULT_MAX_HITS_PER_RULE)]
    pub max_hits_per_rule: usize,
    /// Write hits and usage to the store.
    #[arg(long)]
    pub store: bool,
    /// Also list every skipped record and file.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// The AWS IAM credential report CSV (`aws iam get-credential-report`, Content
    /// base64-decoded). Re-importing the same report changes nothing.
    AwsCredentialReport(ImportArgs),
    /// Evict's generic inventory: CSV with a header, or JSON lines (.jsonl), with the fields of
    /// docs/inventory-format.md.
    Inventory(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import, in order.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// List credentials (or identities with --identities) matching the filters.
    List(ListArgs),
    /// Show one identity with its credentials, or one credential with its identity. ID is an
    /// evict id (i_…, c_…) or PROVIDER:EXTERNAL_ID.
    Show {
        /// The id.
        id: String,
    },
    /// Counts by kind and the figures a responder asks first.
    Stats,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List identities instead of credentials.
    #[arg(long)]
    pub identities: bool,
    /// Only this provider (aws, okta, github, …).
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this kind (a credential kind such as access_key, or with --identities an identity
    /// kind such as service).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this owner.
    #[arg(long)]
    pub owner: Option<String>,
    /// Only this status (active, inactive, revoked, expired; for identities active, disabled,
    /// deleted).
    #[arg(long)]
    pub status: Option<String>,
    /// Only credentials with no expiry.
    #[arg(long)]
    pub persistent: bool,
    /// Only those not used in N days (never used counts once they are N days old).
    #[arg(long, value_name = "N")]
    pub unused_days: Option<u32>,
    /// Only those issued (identities: created) more than N days ago.
    #[arg(long, value_name = "N")]
    pub older_days: Option<u32>,
    /// At most this many rows.
    #[arg(long)]
    pub limit: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Open an incident. Scope references: identity:ID (Evict id or provider:external-id),
    /// provider:NAME, system:NAME (its signing keys and trust anchors), repo:PATH (secrets a
    /// scan stored from it), host:NAME (secrets stored from paths with that component).
    Open(IncidentOpenArgs),
    /// Add or remove scope references.
    Scope(IncidentScopeArgs),
    /// The residual access state: every artifact that must be killed, rotated or examined,
    /// with every reason and the evidence, tiered by the policy, with what a kill would break.
    Residual {
        /// The incident's name.
        name: String,
        /// A tier policy file (TOML; docs/incident-policy.md) instead of the shipped default.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// The ordered containment plan (stored as a new version when it changed): each step
    /// with its action, tier, owner, what it will break and the evidence that will prove it.
    Plan {
        /// The incident's name.
        name: String,
        /// A tier policy file (TOML) instead of the shipped default.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// Carry out the plan through the connectors: without --execute, print the exact
    /// requests it would send (nothing is sent); with it, each action is stored before it is
    /// sent, sent once, and journalled with digests of the request and the answer. Killed or
    /// interrupted, run it again: it takes up exactly what is not done.
    Contain {
        /// The incident's name.
        name: String,
        /// Send the requests (the default is a dry run).
        #[arg(long)]
        execute: bool,
        /// Which tier to act on: kill (the default), rotate, or all (kill and rotate;
        /// validation is for people).
        #[arg(long, value_enum, default_value = "kill")]
        tier: ContainTier,
        /// The connector configuration (default $EVICT_HOME/connectors.toml).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// A file of secrets the connectors need and the store never keeps (OAuth tokens to
        /// revoke and introspect), one a line; matched to the plan by fingerprint and held in
        /// memory for this run only.
        #[arg(long, value_name = "FILE")]
        secrets: Option<PathBuf>,
    },
    /// Probe every action contain has done, after each provider's declared delay, and record
    /// what the probe saw as evidence (verified revoked / still live / unverified) for the
    /// closure gate.
    Verify {
        /// The incident's name.
        name: String,
        /// The connector configuration (default $EVICT_HOME/connectors.toml).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// A file of secrets the connectors need and the store never keeps (OAuth tokens to
        /// revoke and introspect), one a line; matched to the plan by fingerprint and held in
        /// memory for this run only.
        #[arg(long, value_name = "FILE")]
        secrets: Option<PathBuf>,
    },
    /// Record by hand that an artifact was dealt with ("attested", never "verified"). The
    /// closure gate accepts attestations only for the validation tier unless
    /// `close --allow-attested`.
    Attest {
        /// The incident's name.
        name: String,
        /// The artifact's key, as the plan lists it.
        artifact: String,
        /// Who attests (a person).
        #[arg(long, value_name = "WHO")]
        by: String,
        /// What was done and seen.
        #[arg(long, value_name = "TEXT")]
        note: String,
    },
    /// Leave an artifact as it is, with an owner, a reason, an approver who is not the owner,
    /// and an end (for an artifact that cannot be revoked: its natural expiry).
    Except {
        /// The incident's name.
        name: String,
        /// The artifact's key, as the plan lists it.
        artifact: String,
        /// Who answers for it.
        #[arg(long)]
        owner: String,
        /// Who approves the exception (not the owner).
        #[arg(long)]
        approver: String,
        /// Why it stays.
        #[arg(long)]
        reason: String,
        /// When the exception ends (RFC 3339 or a date).
        #[arg(long, value_name = "TIME")]
        expires: String,
    },
    /// Close the incident: refused, with exactly what is missing and exit code 1, while any
    /// artifact of the latest plan lacks verified evidence, an allowed attestation or a live
    /// exception.
    Close {
        /// The incident's name.
        name: String,
        /// Accept attestations for every tier, not only validation.
        #[arg(long)]
        allow_attested: bool,
    },
    /// Write the incident report an auditor receives (--format html, the default, md or
    /// json), signed with the installation's key when `evict keys init` has made one.
    Report {
        /// The incident's name.
        name: String,
        /// Where to write it (default: $EVICT_HOME/reports/NAME-TIME.EXT).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// A tier policy file (TOML) instead of the shipped default.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// List the incidents in the store.
    List,
    /// Show one incident.
    Show {
        /// The incident's name.
        name: String,
    },
}

/// Which tier `incident contain` acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ContainTier {
    /// Immediate kills.
    Kill,
    /// Scheduled rotations.
    Rotate,
    /// Kills and rotations.
    All,
}

#[derive(Debug, Args)]
pub struct IncidentOpenArgs {
    /// A short unique name (letters, digits, '.', '_', '-'), e.g. 2026-05-ci-breach.
    pub name: String,
    /// When the attacker got in, or the earliest time it may have (RFC 3339, UTC).
    #[arg(long, value_name = "TIME")]
    pub compromised_at: String,
    /// When the hole was closed (RFC 3339, UTC).
    #[arg(long, value_name = "TIME")]
    pub patched_at: String,
    /// What the incident covers, KIND:VALUE (repeatable, or several after one --scope).
    #[arg(long, value_name = "KIND:VALUE", num_args = 1..)]
    pub scope: Vec<String>,
    /// An attacker address or network (repeatable).
    #[arg(long, value_name = "IP[/BITS]")]
    pub ioc_ip: Vec<String>,
    /// An attacker user agent, matched case-insensitively as a substring (repeatable).
    #[arg(long, value_name = "TEXT")]
    pub ioc_ua: Vec<String>,
}

#[derive(Debug, Args)]
pub struct IncidentScopeArgs {
    /// The incident's name.
    pub name: String,
    /// Scope references to add, KIND:VALUE.
    #[arg(long, value_name = "KIND:VALUE", num_args = 1..)]
    pub add: Vec<String>,
    /// Scope references to remove, as `evict incident show` lists them.
    #[arg(long, value_name = "KIND:VALUE", num_args = 1..)]
    pub remove: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The provider to read.
    pub provider: SyncProvider,
    /// The connector configuration (default: $EVICT_HOME/connectors.toml).
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
}

/// Providers `evict sync` can read. A provider is synced through its connector
/// (`evict_connectors::Connector`), so adding one here is all `evict sync` needs.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SyncProvider {
    /// PostgreSQL roles and their passwords.
    Postgres,
    /// AWS IAM users and roles, their access keys (each report slot gets its real key id) and
    /// console passwords.
    Aws,
    /// SCIM 2.0 users, active or not.
    Scim,
    /// Not synced: says why (an OAuth server cannot list the tokens it issued).
    #[value(hide = true)]
    Oauth,
}

impl SyncProvider {
    /// The provider's name, as the connector configuration and the inventory spell it.
    pub fn name(self) -> &'static str {
        match self {
            SyncProvider::Postgres => "postgres",
            SyncProvider::Aws => "aws",
            SyncProvider::Scim => "scim",
            SyncProvider::Oauth => "oauth",
        }
    }

    /// Why there is nothing to sync from this provider, when there is nothing.
    pub fn nothing_to_sync(self) -> Option<&'static str> {
        match self {
            SyncProvider::Oauth => Some(
                "an OAuth 2.0 / OIDC server has no standard API that lists the tokens it issued \
                 (RFC 7009 revocation and RFC 7662 introspection act on a token one already \
                 holds), so there is nothing to sync; record known OAuth clients and grants \
                 with `evict import inventory`",
            ),
            SyncProvider::Postgres | SyncProvider::Aws | SyncProvider::Scim => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create the report-signing key pair in $EVICT_HOME (never overwrites an existing key):
    /// report-signing.key (0600, secret) and report-signing.pub (hand it to auditors).
    Init,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Verify a report's signature (embedded, or FILE.sig next to a JSON report) against this
    /// installation's public key or --key. Exit 1 when it does not verify.
    Verify {
        /// The report file.
        file: PathBuf,
        /// The signer's public key file (report-signing.pub) instead of this installation's.
        #[arg(long, value_name = "PUBFILE")]
        key: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Recompute the hash chain; names the first broken entry and exits 1 if there is one.
    Verify,
    /// The entries, oldest first: each with its time, kind, subject, body and hash.
    Show {
        /// Only entries about this subject (an incident's name, a file).
        #[arg(long)]
        subject: Option<String>,
        /// Only entries whose kind starts with this (`action.`, `incident.plan`).
        #[arg(long)]
        kind: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The incident story on real servers instead: moto (AWS IAM), oidc-provider (OAuth),
    /// scim2-server (SCIM) and PostgreSQL (the server EVICT_DEMO_POSTGRES_URL names, else a
    /// throwaway cluster, else the one on 127.0.0.1:5432, with a fresh database), started and
    /// stopped by the demo. Real footholds are made, a token leaks and is scanned, the
    /// providers are synced, the incident is contained, verified and closed, and each server is
    /// read back. Exit 2, naming what to install, when a server is missing; 1 when anything is
    /// left alive or unproven. --users, --inventory-rows and --seed do not apply.
    #[arg(long)]
    pub live: bool,
    /// IAM users in the generated credential report.
    #[arg(long, default_value_t = 200)]
    pub users: u64,
    /// Rows in the generated generic inventory.
    #[arg(long, default_value_t = 1000)]
    pub inventory_rows: u64,
    /// Seed for the generator.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Folder to write into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// IAM users in the credential report (0 = none).
    #[arg(long, default_value_t = 0)]
    pub users: u64,
    /// Rows in the generic inventory (0 = none).
    #[arg(long, default_value_t = 0)]
    pub inventory_rows: u64,
    /// Write the inventory as JSON lines instead of CSV.
    #[arg(long)]
    pub jsonl: bool,
    /// Audit-log records per source (CloudTrail, Okta, GitHub) with an embedded attack; 0 =
    /// no logs. Never fewer than the planted attack records.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub logs: u64,
    /// CloudTrail layout: one record per line, the S3 delivery tree of gzipped objects, or one
    /// JSON array.
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "s3", "array"])]
    pub cloudtrail_shape: String,
    /// Okta and GitHub layout: one record per line or one JSON array.
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "array"])]
    pub export_shape: String,
    /// Most records per S3 object (with --cloudtrail-shape s3).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub records_per_file: usize,
    /// Give every 7th CloudTrail JSON-lines record Logstash's @timestamp instead of eventTime.
    #[arg(long)]
    pub logstash_timestamps: bool,
    /// Write the logs' ground truth (planted events, plan identifiers) as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Seed for the generator.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan; with --git, repositories whose whole history to scan.
    pub paths: Vec<PathBuf>,
    /// Scan every blob of every reachable commit of each PATH (a git repository) once.
    #[arg(long)]
    pub git: bool,
    /// Pre-commit mode: scan what is staged in the repository at PATH (default: .).
    #[arg(long, conflicts_with = "git")]
    pub staged: bool,
    /// A Slack export folder (channels.json and one folder per channel); repeatable.
    #[arg(long, value_name = "DIR")]
    pub slack_export: Vec<PathBuf>,
    /// A JSON-lines export of messages or tickets; fields set with --map; repeatable.
    #[arg(long, value_name = "FILE")]
    pub messages: Vec<PathBuf>,
    /// Field mapping for --messages: text=PATH, id=PATH, channel=PATH, author=PATH (dotted
    /// paths; text defaults to `text`).
    #[arg(long = "map", value_name = "FIELD=PATH")]
    pub map: Vec<String>,
    /// Save the secrets (fingerprints and previews only) and their locations in the store,
    /// linked to inventory credentials with the same provider id.
    #[arg(long)]
    pub store: bool,
    /// Exit 1 when a finding of at least this confidence exists.
    #[arg(long, value_enum, default_value_t = FailOn::Low)]
    pub fail_on: FailOn,
    /// Ask each secret's issuer whether it still works, and mark every finding live, dead or
    /// unknown: an AWS key pair through sts:GetCallerIdentity, a postgres:// URL through a
    /// login that runs no statement, an OAuth token through introspection. This SENDS THE
    /// LEAKED SECRET TO ITS PROVIDER: only providers listed in the configuration's
    /// `[verify] providers = ["aws", "postgres", "oauth"]` are asked (the others stay
    /// "unknown (not opted in)"), each within its `[limits.NAME]` rate and concurrency.
    #[arg(long)]
    pub verify: bool,
    /// The connector configuration for --verify (default: $EVICT_HOME/connectors.toml).
    #[arg(long, value_name = "FILE", requires = "verify")]
    pub config: Option<PathBuf>,
    /// Honour .gitignore, .ignore and git exclude files while walking trees.
    #[arg(long)]
    pub gitignore: bool,
    /// Follow symbolic links (loops are detected and skipped).
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Enter cache directories (those with a CACHEDIR.TAG, such as cargo's target/).
    #[arg(long)]
    pub include_cache_dirs: bool,
    /// Add (or override by id) rules from the YAML files in DIR.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// An ignore file besides each scanned folder's .evictignore; repeatable.
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Vec<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// List every skipped input with its reason.
    #[arg(long, short)]
    pub verbose: bool,
}

/// The confidence at which a scan fails a CI gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any finding.
    Low,
    /// Medium and high confidence findings.
    Medium,
    /// High confidence findings only.
    High,
    /// Never fail on findings.
    Never,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate every rule and run every example; exit 1 on any error. Hunt rules that load but
    /// cannot run on a log source Evict reads are listed as unsupported, with the reason.
    Check {
        /// Check the built-in secret rules plus the YAML files in DIR.
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// Also check the Sigma rules in DIR (repeatable).
        #[arg(long, value_name = "DIR")]
        hunt_rules: Vec<PathBuf>,
        /// Which rules: secret detectors, hunts, or both.
        #[arg(long, value_enum, default_value_t = RuleKind::All)]
        kind: RuleKind,
        /// Treat warnings (e.g. a rule without negative examples) as errors.
        #[arg(long)]
        warnings_as_errors: bool,
    },
    /// List the rules.
    List {
        /// Include the YAML files in DIR.
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// Include the Sigma rules in DIR (repeatable).
        #[arg(long, value_name = "DIR")]
        hunt_rules: Vec<PathBuf>,
        /// Which rules: secret detectors, hunts, or both.
        #[arg(long, value_enum, default_value_t = RuleKind::All)]
        kind: RuleKind,
    },
}

/// Which kind of rules a `rules` command covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuleKind {
    /// Secret detectors (rules/secrets).
    Secrets,
    /// Hunts: Evict's pack, the shipped SigmaHQ rules and the built-in window hunts.
    Hunts,
    /// Both.
    All,
}
