//! `evict demo --live`: the whole incident story against real servers on this machine —
//! moto (AWS IAM), oidc-provider (OAuth 2.0), PostgreSQL and scim2-server (SCIM 2.0) — that
//! the demo starts and stops itself, in a fresh temporary store (never the user's).
//!
//! The attacker's footholds are real (a PostgreSQL role with a password and an open session,
//! an IAM user with an Active access key, an OAuth access token, a SCIM user); a copy of the
//! token leaks into a file. Then the responder's part runs through the same command functions
//! the CLI runs (scan, sync, hunt, incident open / plan / contain / verify / close, report),
//! and each server is read back directly at the end. Every component is looked for before
//! anything starts: a missing one is named with its install command and nothing runs (exit 2).
//! The servers are stopped on every way out — success, error, Ctrl-C.

mod footholds;
mod lab;

use std::future::Future;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use evict_model::EvidenceVerdict;
use evict_store::EvictHome;
use evict_testkit::servers::NotInstalled;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::args::{
    ContainTier, FailOn, Format, HuntArgs, IncidentCommand, IncidentOpenArgs, KeysCommand,
    ScanArgs, SyncArgs, SyncProvider,
};
use crate::{Context, Outcome, output};
use footholds::{
    ATTACKER_AGENT, AwsFoothold, OAuthFoothold, PgFoothold, PgNames, ScimFoothold, write_secret,
};

/// The incident the story opens.
const INCIDENT: &str = "live-breach";
/// The incident's indicator: the attacker's tool, as its sessions name themselves.
const INDICATOR: &str = "evil-kit";

/// The tier policy of the story: everything the incident names is the attacker's, so every
/// artifact is killed now (the shipped default would rotate a leaked token and only examine
/// an account in scope without evidence of use).
const DEMO_POLICY: &str = r#"# evict demo --live: every artifact this incident names is the attacker's own.
recent_use_days = 30
default_tier = "validate"

[[rule]]
name = "attacker-footholds"
tier = "kill"
why = "The attacker made it, used it with their tool, or leaked it: disable or revoke it now."
any_reason = ["identity_in_scope", "used_from_indicator", "exposed_in_scope", "copy_of_exposed", "created_during_window", "created_by_foothold", "issued_before_patch"]
"#;

/// How a `PostgreSQL` session export is read by `evict hunt --source jsonl`.
const SESSIONS_MAPPING: &str = "# pg_stat_activity, exported as JSON lines\n\
provider: postgres\ntime: time\ntime_format: epoch_ms\naction: event\nactor: role\n\
source: client\nuser_agent: application\n";

pub async fn run(ctx: &Context) -> anyhow::Result<Outcome> {
    let found = lab::preflight().map_err(|missing| anyhow!(missing_message(&missing)))?;
    let started = Timestamp::now();
    let dir = std::env::temp_dir().join(format!(
        "evict-demo-live-{}-{}",
        std::process::id(),
        started.as_second()
    ));
    let home = EvictHome::at(dir.join("home"));
    home.ensure()?;
    // Secrets (connector credentials, the leaked file) and server logs live here, and go with
    // it at the end, whatever happens.
    let private = tempfile::Builder::new()
        .prefix("evict-demo-live-private-")
        .tempdir()
        .context("cannot make the run's private folder")?;
    output::note(
        ctx.quiet,
        "starting moto, scim2-server, oidc-provider and PostgreSQL …",
    );
    let logs = private.path().to_path_buf();
    let mut starting = tokio::task::spawn_blocking(move || lab::start(found, &logs));
    let lab = tokio::select! {
        started = &mut starting => started,
        why = interrupted() => {
            // What was being started is stopped as soon as it is up.
            drop(starting.await);
            anyhow::bail!("{why} while the servers started; none is left running");
        }
    };
    let lab = lab
        .map_err(|e| anyhow!("starting the servers: {e}"))?
        .map_err(|e| anyhow!("cannot start the demo's servers: {e}"))?;
    let names = PgNames::new(lab.postgres.cluster.is_none());
    let mut demo = Demo {
        parent: ctx,
        home,
        dir,
        private: private.path().to_path_buf(),
        json: ctx.format == Format::Json,
        steps: Vec::new(),
    };
    let result = tokio::select! {
        r = demo.story(&lab, &names) => r,
        why = interrupted() => Err(anyhow!("{why}")),
    };
    // Every way out: what the run put on a server it did not start, then the servers.
    if let Err(why) = footholds::drop_pg(&lab.postgres.admin_url, &names).await {
        output::error(&format!(
            "could not drop the run's database and roles ({}) from {}: {why}",
            names.database, lab.postgres.described
        ));
    }
    let ports = lab.ports();
    output::note(ctx.quiet, "stopping the servers …");
    drop(lab);
    drop(private);
    let mut summary = result?;
    summary["ports"] = json!(ports);
    summary["steps"] = Value::Array(std::mem::take(&mut demo.steps));
    let ok = summary["all_dead"] == true
        && summary["all_verified"] == true
        && summary["incident"]["closed"] == true;
    if demo.json {
        output::json(&summary)?;
    } else {
        output::line(&format!(
            "\nThe servers are stopped and their data removed. The store stays: EVICT_HOME={} evict journal show --subject {INCIDENT}",
            demo.home.dir().display()
        ));
    }
    Ok(if ok { Outcome::Ok } else { Outcome::Attention })
}

/// Resolves when the run is asked to stop: Ctrl-C (SIGINT) or SIGTERM; says which.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    tokio::select! {
        Ok(()) = tokio::signal::ctrl_c() => "interrupted (Ctrl-C)",
        Some(_) = async {
            match term.as_mut() {
                Some(t) => t.recv().await,
                None => std::future::pending().await,
            }
        } => "terminated (SIGTERM)",
        // Neither signal can be listened for: the run is not interruptible this way.
        else => std::future::pending().await,
    }
}

/// What to print when components are missing (the run exits 2 with it, having started
/// nothing).
fn missing_message(missing: &[NotInstalled]) -> String {
    let mut text = format!(
        "evict demo --live runs on four local servers (moto, scim2-server, oidc-provider, \
         PostgreSQL) and {} not installed; nothing was started:",
        if missing.len() == 1 {
            "one is".to_string()
        } else {
            format!("{} are", missing.len())
        }
    );
    for m in missing {
        text.push_str(&format!(
            "\n  - {}: {}\n      install: {}",
            m.component, m.why, m.install
        ));
    }
    text
}

struct Demo<'a> {
    parent: &'a Context,
    home: EvictHome,
    /// The run's folder, kept: the store, the policy, the exported sessions.
    dir: PathBuf,
    /// The run's private folder, removed at the end.
    private: PathBuf,
    json: bool,
    /// Each command run, with its own JSON answer (`--format json`).
    steps: Vec<Value>,
}

/// The artifacts the attacker made, for the output.
struct Footholds {
    pg: PgFoothold,
    aws: AwsFoothold,
    oauth: OAuthFoothold,
    scim: ScimFoothold,
}

impl Footholds {
    async fn read_back(&mut self) -> anyhow::Result<Value> {
        Ok(json!({
            "postgres": self.pg.read_back().await?,
            "aws": self.aws.read_back().await?,
            "oauth": self.oauth.read_back().await?,
            "scim": self.scim.read_back().await?,
        }))
    }

    fn dead(state: &Value) -> Value {
        json!({
            "postgres": PgFoothold::dead(&state["postgres"]),
            "aws": AwsFoothold::dead(&state["aws"]),
            "oauth": OAuthFoothold::dead(&state["oauth"]),
            "scim": ScimFoothold::dead(&state["scim"]),
        })
    }
}

fn exit_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Ok => 0,
        Outcome::Attention => 1,
    }
}

impl Demo<'_> {
    /// A line of the story: stdout for the table format, a note on stderr for JSON.
    fn say(&self, text: &str) {
        if self.json {
            output::note(self.parent.quiet, text);
        } else {
            output::line(text);
        }
    }

    /// The context a command of the story runs in: the run's store, the clock's now.
    fn ctx(&self) -> Context {
        Context {
            format: self.parent.format,
            quiet: self.parent.quiet || self.json,
            now: Timestamp::now(),
            home: self.home.clone(),
            database_url: None,
        }
    }

    /// A path for people: relative to the run's folders.
    fn shown(&self, path: &Path) -> String {
        if let Ok(rest) = path.strip_prefix(&self.private) {
            format!("<private>/{}", rest.display())
        } else if let Ok(rest) = path.strip_prefix(&self.dir) {
            format!("<run>/{}", rest.display())
        } else {
            path.display().to_string()
        }
    }

    /// Runs one command of the story: its own output printed (table) or kept with the story's
    /// (JSON).
    async fn step(
        &mut self,
        command: String,
        run: impl Future<Output = anyhow::Result<Outcome>>,
    ) -> anyhow::Result<Outcome> {
        if self.json {
            let (result, printed) = output::capture(run).await;
            let outcome = result.with_context(|| format!("`{command}`"))?;
            let output = if printed.len() == 1 {
                printed.into_iter().next().unwrap_or_default()
            } else {
                Value::Array(printed)
            };
            self.steps.push(json!({
                "command": command,
                "exit": exit_code(outcome),
                "output": output,
            }));
            Ok(outcome)
        } else {
            output::line(&format!("\n  $ {command}"));
            run.await.with_context(|| format!("`{command}`"))
        }
    }

    /// The connector configuration for the run's servers; every secret in a file of its own
    /// beside it (mode 0600), referenced, never written in it.
    fn write_config(&self, lab: &lab::Lab, f: &Footholds) -> anyhow::Result<PathBuf> {
        let secret = |name: &str, value: &str| {
            write_secret(&self.private.join(name), value).map(|p| p.display().to_string())
        };
        let text = format!(
            "# evict demo --live: the connectors to the run's servers. Secrets are in the files\n\
             # named here (mode 0600), never in this file.\n\n\
             [postgres]\nurl = {{ file = \"{pg}\" }}\n\n\
             [aws]\nregion = \"us-east-1\"\nendpoint_url = \"{moto}\"\n\
             access_key_id = {{ file = \"{key_id}\" }}\n\
             secret_access_key = {{ file = \"{key_secret}\" }}\n\
             propagation_delay_seconds = 0\n\n\
             [scim]\nbase_url = \"{scim}/v2\"\ntoken = {{ file = \"{scim_token}\" }}\n\n\
             # Evict acts on a token as the client it was issued to (RFC 7009 section 2.1).\n\
             [oauth]\nissuer = \"{issuer}\"\nclient_id = \"service\"\n\
             client_secret = {{ file = \"{oauth_secret}\" }}\n\n\
             # A leaked token is checked by introspection; generic.token is the rule that\n\
             # finds it in the leaked .env.\n\
             [verify]\nproviders = [\"oauth\"]\n\n[verify.oauth]\nrules = [\"generic.token\"]\n",
            pg = secret("postgres-url", &f.pg.responder_url)?,
            moto = lab.moto.base_url(),
            key_id = secret("aws-access-key-id", &f.aws.responder_key_id)?,
            key_secret = secret("aws-secret-access-key", &f.aws.responder_secret)?,
            scim = lab.scim.base_url(),
            scim_token = secret("scim-token", &lab.scim_token)?,
            issuer = lab.oidc.issuer(),
            oauth_secret = secret("oauth-client-secret", &lab.oidc_service_secret)?,
        );
        let path = self.private.join("connectors.toml");
        std::fs::write(&path, text)?;
        Ok(path)
    }

    async fn story(&mut self, lab: &lab::Lab, names: &PgNames) -> anyhow::Result<Value> {
        let started = Timestamp::now();
        self.say(&format!(
            "Evict live demo: a breach on real servers, contained and proven.\n\
             \x20 PostgreSQL  {}\n\
             \x20 AWS IAM     moto on 127.0.0.1:{} (checking every signature)\n\
             \x20 OAuth 2.0   oidc-provider on 127.0.0.1:{}\n\
             \x20 SCIM 2.0    scim2-server on 127.0.0.1:{}\n\
             \x20 store       a fresh one at {} (never yours)\n",
            lab.postgres.described,
            lab.moto.port,
            lab.oidc.server.port,
            lab.scim.port,
            self.home.dir().display()
        ));

        // 1. The attacker's footholds, made for real.
        let scim_base = format!("{}/v2", lab.scim.base_url());
        let (moto, issuer) = (lab.moto.base_url(), lab.oidc.issuer());
        let (pg, aws, oauth, scim) = tokio::try_join!(
            PgFoothold::plant(&lab.postgres.admin_url, names.clone()),
            AwsFoothold::plant(&moto, lab.moto.port),
            OAuthFoothold::plant(&issuer, &lab.oidc_service_secret),
            ScimFoothold::plant(&scim_base, &lab.scim_token),
        )?;
        let mut f = Footholds {
            pg,
            aws,
            oauth,
            scim,
        };
        let before = f.read_back().await?;
        self.say(&format!(
            "1. The attacker's footholds, made for real (their secrets are never shown):\n\
             \x20  PostgreSQL  role {} with a password, and session pid {} open as {ATTACKER_AGENT}: a login with the password {}\n\
             \x20  AWS IAM     user {} with access key {}: {}\n\
             \x20  OAuth       an access token of client 'service' (scope api{}): introspection says active {}\n\
             \x20  SCIM        user {} (id {}): active {}",
            f.pg.names.attacker,
            f.pg.pid,
            if before["postgres"]["login_with_its_password"]["accepted"] == true {
                "works"
            } else {
                "FAILS"
            },
            f.aws.user_arn,
            f.aws.key_id,
            before["aws"]["status"].as_str().unwrap_or("?"),
            f.oauth
                .expires_in
                .map(|s| format!(", expires in {s} s"))
                .unwrap_or_default(),
            before["oauth"]["active"],
            f.scim.user_name,
            f.scim.id,
            before["scim"]["active"],
        ));

        // 2. The leak, scanned.
        let config = self.write_config(lab, &f)?;
        let leak = self.private.join("leak");
        std::fs::create_dir_all(&leak)?;
        write_secret(
            &leak.join(".env"),
            &format!(
                "# settings of the reporting job, pasted into a public ticket\n\
                 API_BASE_URL={}\nOAUTH_ACCESS_TOKEN={}\n",
                lab.oidc.issuer(),
                f.oauth.token
            ),
        )?;
        let leak = std::fs::canonicalize(&leak)?;
        self.say(
            "\n2. A copy of the token leaked in a .env file. Evict scans it, stores only a keyed \
             fingerprint and a redacted preview, and (--verify, opted in for OAuth) asks the \
             issuer by RFC 7662 introspection whether the copy still works:",
        );
        let ctx = self.ctx();
        let scan = ScanArgs {
            paths: vec![leak.clone()],
            git: false,
            staged: false,
            slack_export: Vec::new(),
            messages: Vec::new(),
            map: Vec::new(),
            store: true,
            fail_on: FailOn::Never,
            verify: true,
            config: Some(config.clone()),
            gitignore: false,
            follow_symlinks: false,
            include_cache_dirs: false,
            rules: None,
            ignore_file: Vec::new(),
            threads: None,
            verbose: false,
        };
        let shown_config = self.shown(&config);
        self.step(
            format!(
                "evict scan {} --store --verify --config {shown_config}",
                self.shown(&leak)
            ),
            crate::cmd_scan::run(&ctx, scan),
        )
        .await?;

        // 3. The inventory, from the live providers.
        self.say(
            "\n3. The inventory, read from the live providers through the connectors \
             (an OAuth server cannot list the tokens it issued: the leaked copy is how Evict \
             knows this one):",
        );
        for (provider, name) in [
            (SyncProvider::Postgres, "postgres"),
            (SyncProvider::Aws, "aws"),
            (SyncProvider::Scim, "scim"),
        ] {
            let ctx = self.ctx();
            self.step(
                format!("evict sync {name} --config {shown_config}"),
                crate::cmd_sync::run(
                    &ctx,
                    SyncArgs {
                        provider,
                        config: Some(config.clone()),
                    },
                ),
            )
            .await?;
        }

        // 4. The hunt: the database's sessions, exported, with the attacker's indicator.
        let compromised_at = (started - SignedDuration::from_mins(10)).round(jiff::Unit::Second)?;
        // The patch: after every foothold, on a whole second that has passed.
        let patched_at = Timestamp::now().round(
            jiff::TimestampRound::new()
                .smallest(jiff::Unit::Second)
                .mode(jiff::RoundMode::Ceil),
        )?;
        while Timestamp::now() <= patched_at {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let sessions = self.dir.join("pg-sessions.jsonl");
        let mapping = self.dir.join("pg-sessions.mapping.yml");
        std::fs::write(&mapping, SESSIONS_MAPPING)?;
        let exported = f.pg.export_sessions(&sessions).await?;
        self.say(&format!(
            "\n4. The database's client sessions ({exported}), exported from pg_stat_activity as a \
             DBA would during triage, hunted for the incident's indicator (the agent \
             '{INDICATOR}'):"
        ));
        let ctx = self.ctx();
        let hunt = HuntArgs {
            paths: vec![sessions.clone()],
            rules: Vec::new(),
            no_default_rules: true,
            no_sigmahq: true,
            source: Some("jsonl".into()),
            mapping: Some(mapping.clone()),
            since: None,
            until: None,
            compromised_at: Some(compromised_at.to_string()),
            patched_at: Some(patched_at.to_string()),
            ioc_ip: Vec::new(),
            ioc_ua: vec![INDICATOR.into()],
            min_severity: "medium".into(),
            max_hits_per_rule: evict_logs::hunt::DEFAULT_MAX_HITS_PER_RULE,
            store: true,
            verbose: false,
        };
        self.step(
            format!(
                "evict hunt {} --source jsonl --mapping {} --no-default-rules --ioc-ua {INDICATOR} \
                 --compromised-at {compromised_at} --patched-at {patched_at} --store",
                self.shown(&sessions),
                self.shown(&mapping)
            ),
            crate::cmd_hunt::run(&ctx, hunt),
        )
        .await?;

        // 5. The incident.
        let scope = vec![
            format!("identity:postgres:{}", f.pg.names.attacker),
            format!("identity:aws:{}", f.aws.user_arn),
            format!("identity:scim:{}", f.scim.id),
            format!("repo:{}", leak.display()),
        ];
        self.say(&format!(
            "\n5. The incident: window {compromised_at} … {patched_at}, the attacker's accounts \
             and the leaked file in scope, and the indicator '{INDICATOR}':"
        ));
        let ctx = self.ctx();
        self.step(
            format!(
                "evict incident open {INCIDENT} --compromised-at {compromised_at} --patched-at \
                 {patched_at} --ioc-ua {INDICATOR} --scope {}",
                scope.join(" ")
            ),
            crate::cmd_incident::run(
                &ctx,
                IncidentCommand::Open(IncidentOpenArgs {
                    name: INCIDENT.into(),
                    compromised_at: compromised_at.to_string(),
                    patched_at: patched_at.to_string(),
                    scope,
                    ioc_ip: Vec::new(),
                    ioc_ua: vec![INDICATOR.into()],
                }),
            ),
        )
        .await?;

        // 6. The plan.
        let policy = self.dir.join("demo-policy.toml");
        std::fs::write(&policy, DEMO_POLICY)?;
        self.say(
            "\n6. The plan, under the demo's tier policy (everything this incident names is the \
             attacker's: kill it now):",
        );
        let ctx = self.ctx();
        self.step(
            format!(
                "evict incident plan {INCIDENT} --policy {}",
                self.shown(&policy)
            ),
            crate::cmd_incident::run(
                &ctx,
                IncidentCommand::Plan {
                    name: INCIDENT.into(),
                    policy: Some(policy.clone()),
                },
            ),
        )
        .await?;

        // 7. Containment: the dry run, then for real. Evict never stores the token, so the
        // responder hands it over for the run (it is the leaked copy they hold); the OAuth step
        // is matched to it by fingerprint.
        let tokens = write_secret(
            &self.private.join("handed-over-secrets"),
            &format!(
                "# the leaked OAuth token, handed over for this run only\n{}\n",
                f.oauth.token
            ),
        )?;
        let handed = format!("--config {shown_config} --secrets {}", self.shown(&tokens));
        for (execute, said) in [
            (
                false,
                "\n7. Containment, first as a dry run: the exact requests, nothing sent. The \
                 leaked token itself is handed over for the run (--secrets: Evict stores only \
                 its fingerprint, and revoking or introspecting a token needs the token):",
            ),
            (
                true,
                "\n   Then executed: each action stored before it is sent, sent once, \
                 journalled:",
            ),
        ] {
            self.say(said);
            let ctx = self.ctx();
            self.step(
                format!(
                    "evict incident contain {INCIDENT}{} {handed}",
                    if execute { " --execute" } else { "" }
                ),
                crate::cmd_contain::contain(
                    &ctx,
                    INCIDENT,
                    execute,
                    ContainTier::Kill,
                    Some(config.clone()),
                    Some(tokens.clone()),
                ),
            )
            .await?;
        }

        // 8. The gate refuses a close on the providers' word alone.
        self.say(
            "\n8. Closing now is refused: the providers answered, but an answer is not evidence \
             (RFC 7009 answers 200 even for a token it never issued):",
        );
        let early = self.close().await?;

        // 9. Verification.
        self.say("\n9. Verification: each connector's own probe, recorded as evidence:");
        let ctx = self.ctx();
        self.step(
            format!("evict incident verify {INCIDENT} {handed}"),
            crate::cmd_contain::verify(&ctx, INCIDENT, Some(config.clone()), Some(tokens.clone())),
        )
        .await?;

        // 10. The close, on evidence.
        self.say("\n10. Closing again, on the probes' evidence:");
        self.close().await?;
        let ctx = self.ctx();
        self.step("evict keys init".into(), async {
            crate::cmd_keys::keys(&ctx, KeysCommand::Init)
        })
        .await?;
        let ctx = self.ctx();
        self.step(
            format!("evict incident report {INCIDENT}"),
            crate::cmd_incident::run(
                &ctx,
                IncidentCommand::Report {
                    name: INCIDENT.into(),
                    out: None,
                    policy: Some(policy.clone()),
                },
            ),
        )
        .await?;

        // 11. What the store recorded, and what the servers say now.
        let (outcome, closed) = self.outcome().await?;
        let after = f.read_back().await?;
        let dead = Footholds::dead(&after);
        let all_dead = dead
            .as_object()
            .is_some_and(|m| m.values().all(|v| v == true));
        let all_verified = !outcome.is_empty()
            && outcome
                .iter()
                .all(|o| o["verdict"] == json!(EvidenceVerdict::VerifiedRevoked));
        if !self.json {
            self.print_outcome(&outcome, &after, &dead);
        }
        Ok(json!({
            "home": self.home.dir(),
            "postgres_server": lab.postgres.described,
            "incident": {
                "name": INCIDENT,
                "compromised_at": compromised_at,
                "patched_at": patched_at,
                "refused_before_verify": early == Outcome::Attention,
                "closed": closed,
            },
            "footholds": {
                "postgres": { "role": f.pg.names.attacker, "session_pid": f.pg.pid, "database": f.pg.names.database },
                "aws": { "user": f.aws.user_arn, "access_key_id": f.aws.key_id },
                "oauth": { "client_id": "service", "issuer": lab.oidc.issuer() },
                "scim": { "id": f.scim.id, "userName": f.scim.user_name },
            },
            "before": before,
            "outcome": outcome,
            "after": after,
            "dead": dead,
            "all_dead": all_dead,
            "all_verified": all_verified,
        }))
    }

    /// `evict incident close` (without --allow-attested): the closure gate.
    async fn close(&mut self) -> anyhow::Result<Outcome> {
        let ctx = self.ctx();
        self.step(
            format!("evict incident close {INCIDENT}"),
            crate::cmd_incident::run(
                &ctx,
                IncidentCommand::Close {
                    name: INCIDENT.into(),
                    allow_attested: false,
                },
            ),
        )
        .await
    }

    /// Per action of the incident: what was done, how it ended, and the evidence its
    /// artifact has; and whether the incident is closed.
    async fn outcome(&self) -> anyhow::Result<(Vec<Value>, bool)> {
        let store = self.ctx().open_store().await?;
        let read = async {
            let actions = store.actions_of(INCIDENT).await?;
            let evidence = store.evidence_of(INCIDENT).await?;
            let incident = store.incident(INCIDENT).await?;
            Ok::<_, anyhow::Error>((actions, evidence, incident))
        }
        .await;
        store.close().await;
        let (actions, evidence, incident) = read?;
        let closed =
            incident.is_some_and(|i| i.incident.status == evict_model::IncidentStatus::Closed);
        let mut rows = Vec::new();
        for a in actions
            .iter()
            .filter(|a| !a.after.iter().any(|d| d.starts_with("done:")))
        {
            let latest = evidence
                .iter()
                .filter(|e| e.artifact == a.artifact)
                .max_by_key(|e| (e.at, e.journal));
            let follow_ups: Vec<String> = actions
                .iter()
                .filter(|f| f.after.contains(&format!("done:{}", a.key)))
                .map(|f| format!("{} ({})", f.action, f.state))
                .collect();
            rows.push(json!({
                "provider": a.provider,
                "artifact": a.artifact,
                "action": a.action,
                "target": format!("{} {}", a.target_kind, a.native_id),
                "state": a.state,
                "then": follow_ups,
                "verdict": latest.map(|e| e.verdict),
                "evidence": latest.map(|e| e.detail.clone()),
            }));
        }
        Ok((rows, closed))
    }

    fn print_outcome(&self, outcome: &[Value], after: &Value, dead: &Value) {
        self.say("\n11. Per provider, what was done and what proves it:");
        let mut table = output::table(&[
            "provider", "action", "target", "state", "verdict", "evidence",
        ]);
        for o in outcome {
            let then = o["then"]
                .as_array()
                .filter(|t| !t.is_empty())
                .map(|t| {
                    format!(
                        ", then {}",
                        t.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .unwrap_or_default();
            let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
            table.add_row(vec![
                text(&o["provider"]),
                format!("{}{then}", text(&o["action"])),
                text(&o["target"]),
                text(&o["state"]),
                o["verdict"].as_str().unwrap_or("no evidence").to_string(),
                o["evidence"].as_str().unwrap_or("-").to_string(),
            ]);
        }
        output::print_table(&table);
        let mark = |provider: &str| {
            if dead[provider] == true {
                "dead"
            } else {
                "STILL LIVE"
            }
        };
        let pg = &after["postgres"];
        self.say(&format!(
            "\n12. Read back from each server directly, not through Evict:\n\
             \x20  PostgreSQL  [{}] rolcanlogin = {}; a login with the attacker's password: {}; \
             the held session (pid {}): {}; sessions of the role left: {}\n\
             \x20  AWS IAM     [{}] access key {} is {}\n\
             \x20  OAuth       [{}] introspection of the token: active {}\n\
             \x20  SCIM        [{}] user {}: active {}",
            mark("postgres"),
            pg["rolcanlogin"],
            pg["login_with_its_password"]["answer"]
                .as_str()
                .unwrap_or("accepted"),
            pg["held_session"]["pid"],
            pg["held_session"]["query"]["answer"]
                .as_str()
                .unwrap_or("still answers"),
            pg["sessions_of_the_role"],
            mark("aws"),
            after["aws"]["access_key_id"].as_str().unwrap_or("?"),
            after["aws"]["status"].as_str().unwrap_or("absent"),
            mark("oauth"),
            after["oauth"]["active"],
            mark("scim"),
            after["scim"]["id"].as_str().unwrap_or("?"),
            after["scim"]["active"],
        ));
    }
}
