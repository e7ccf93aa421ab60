//! The hunt: every record through the Sigma rules, the window-aware built-ins Sigma cannot
//! express, and usage aggregation — one pass, in parallel, with memory bounded by the number
//! of credentials rather than the size of the logs.

use std::collections::BTreeMap;

use ahash::{AHashMap as HashMap, AHashSet as HashSet};
use std::net::IpAddr;

use evict_model::{Event, RawPointer, Severity};
use jiff::Timestamp;
use serde::Serialize;

use crate::read::SourceKind;
use crate::sigma::{HuntEngine, HuntRule, RecordFields};
use crate::usage::UsageBook;

/// The exposure window and indicators an incident gives a hunt.
#[derive(Debug, Clone, Default)]
pub struct HuntOptions {
    /// Ignore events before this time.
    pub since: Option<Timestamp>,
    /// Ignore events at or after this time.
    pub until: Option<Timestamp>,
    /// When the attacker got in (or the earliest time it may have).
    pub compromised_at: Option<Timestamp>,
    /// When the hole was closed.
    pub patched_at: Option<Timestamp>,
    /// Attacker addresses or networks.
    pub ioc_ips: Vec<IpNet>,
    /// Attacker user agents (matched case-insensitively as substrings).
    pub ioc_user_agents: Vec<String>,
    /// Hits listed per rule (the earliest ones); every hit is still counted. 0 lists all.
    /// Noisy rules cannot then make memory grow with the logs.
    pub max_hits_per_rule: usize,
}

/// The default for [`HuntOptions::max_hits_per_rule`].
pub const DEFAULT_MAX_HITS_PER_RULE: usize = 1000;

/// The order hits are listed in, and which ones a full rule keeps: earliest first.
fn hit_order(hit: &Hit) -> (Timestamp, &str, u64) {
    (hit.time, hit.raw.file.as_str(), hit.raw.offset)
}

struct Ordered(Hit);

impl PartialEq for Ordered {
    fn eq(&self, other: &Self) -> bool {
        hit_order(&self.0) == hit_order(&other.0)
    }
}
impl Eq for Ordered {}
impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        hit_order(&self.0).cmp(&hit_order(&other.0))
    }
}

/// Hits per rule: an exact count, and the earliest `cap` hits (a max-heap, so the latest kept
/// hit is the one a new, earlier hit replaces).
#[derive(Default)]
pub(crate) struct HitBook {
    cap: usize,
    rules: HashMap<String, (u64, std::collections::BinaryHeap<Ordered>)>,
}

impl std::fmt::Debug for HitBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HitBook")
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl HitBook {
    fn new(cap: usize) -> Self {
        HitBook {
            cap,
            rules: HashMap::default(),
        }
    }

    /// Whether a hit of `rule` at this place would be listed (so it is worth building).
    fn wants(&self, rule: &str, time: Timestamp, raw: &RawPointer) -> bool {
        match self.rules.get(rule) {
            None => true,
            Some((_, heap)) => {
                self.cap == 0
                    || heap.len() < self.cap
                    || heap.peek().is_some_and(|top| {
                        (time, raw.file.as_str(), raw.offset) < hit_order(&top.0)
                    })
            }
        }
    }

    /// Counts a hit that [`HitBook::wants`] said would not be listed.
    fn count(&mut self, rule: &str) {
        match self.rules.get_mut(rule) {
            Some((n, _)) => *n += 1,
            None => {
                self.rules.insert(rule.to_string(), (1, Default::default()));
            }
        }
    }

    fn push(&mut self, hit: Hit) {
        let cap = self.cap;
        let (n, heap) = match self.rules.get_mut(&hit.rule) {
            Some(entry) => entry,
            None => self.rules.entry(hit.rule.clone()).or_default(),
        };
        *n += 1;
        heap.push(Ordered(hit));
        if cap > 0 && heap.len() > cap {
            heap.pop();
        }
    }

    fn merge(&mut self, other: HitBook) {
        for (rule, (n, heap)) in other.rules {
            let listed = heap.len() as u64;
            for hit in heap {
                self.push(hit.0);
            }
            let only_counted = n.saturating_sub(listed);
            if only_counted > 0 {
                self.rules.entry(rule).or_default().0 += only_counted;
            }
        }
    }

    /// Listed hits in time order, and every rule's count.
    fn finish(self) -> (Vec<Hit>, BTreeMap<String, u64>) {
        let mut counts = BTreeMap::new();
        let mut hits = Vec::new();
        for (rule, (n, heap)) in self.rules {
            counts.insert(rule, n);
            hits.extend(heap.into_iter().map(|o| o.0));
        }
        hits.sort_by(|a, b| (hit_order(a), &a.rule).cmp(&(hit_order(b), &b.rule)));
        (hits, counts)
    }
}

/// An IP address or network (`203.0.113.66`, `203.0.113.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = crate::ip::normalize_ip(addr.trim()).ok_or_else(|| {
            format!("'{s}' is not an IP address or network (e.g. 203.0.113.7 or 203.0.113.0/24)")
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}': the prefix length must be 0..={max}"))?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - prefix)
            }
        }
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                masked(u32::from(a).into(), self.prefix, 32)
                    == masked(u32::from(b).into(), self.prefix, 32)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                masked(a.into(), self.prefix, 128) == masked(b.into(), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// Where a hit falls relative to the exposure window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowPosition {
    /// Before the compromise.
    Before,
    /// Between compromise and patch: a foothold the attacker may have made.
    During,
    /// After the patch.
    After,
}

/// A rule that is code, not Sigma, because it needs the window, indicators or state across
/// events. Listed by `evict rules list` next to the Sigma rules.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Builtin {
    /// The name hits carry.
    pub name: &'static str,
    /// One line for people.
    pub title: &'static str,
    /// How serious a hit is.
    pub severity: Severity,
    /// ATT&CK technique ids.
    pub techniques: &'static [&'static str],
    /// What it needs from the command line to run.
    pub needs: &'static str,
}

/// Evict's built-in hunts.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "session-issued-before-patch-used-after",
        title: "A session issued before the patch was still used after it",
        severity: Severity::High,
        techniques: &["T1550.001", "T1078.004"],
        needs: "--patched-at",
    },
    Builtin {
        name: "credential-new-source-after-patch",
        title: "A credential was used after the patch from a source it never used before the window",
        severity: Severity::High,
        techniques: &["T1078.004"],
        needs: "--compromised-at and --patched-at",
    },
    Builtin {
        name: "ioc-ip",
        title: "Activity from an attacker IP address",
        severity: Severity::Critical,
        techniques: &["T1078"],
        needs: "--ioc-ip",
    },
    Builtin {
        name: "ioc-user-agent",
        title: "Activity with an attacker user agent",
        severity: Severity::Critical,
        techniques: &["T1078"],
        needs: "--ioc-ua",
    },
    Builtin {
        name: "aws-role-trust-outside-account",
        title: "A role's trust policy now lets a principal of another AWS account assume it",
        severity: Severity::High,
        techniques: &["T1098.003", "T1484.002"],
        needs: "",
    },
];

fn builtin(name: &str) -> &'static Builtin {
    BUILTINS
        .iter()
        .find(|b| b.name == name)
        .unwrap_or(&BUILTINS[0])
}

/// One hunt result: what matched, when, who, with which credential, from where, and the pointer
/// back to the raw record.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// The rule's name (Sigma `name`/`id`, or a built-in's name).
    pub rule: String,
    /// The Sigma rule id, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// The rule's title.
    pub title: String,
    /// How serious.
    pub severity: Severity,
    /// ATT&CK technique ids.
    pub techniques: Vec<String>,
    /// When the event happened.
    pub time: Timestamp,
    /// Where it falls relative to the exposure window, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowPosition>,
    /// The log source.
    pub source_kind: SourceKind,
    /// The provider the event is filed under (`aws` for CloudTrail; for JSON lines, the
    /// mapping's `provider`): whose identities and credentials its actor and target are.
    pub provider: String,
    /// The provider's action name.
    pub action: String,
    /// The actor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The actor's credential id (access key id, hashed token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// What the action was done to (the user a key was created for, the role changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The provider's id of what the action created, when the record names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The source address as logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The user agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// One line for people.
    pub summary: String,
    /// The provider's id of the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Where the raw record is.
    pub raw: RawPointer,
}

/// What a finished hunt state holds.
#[derive(Debug)]
pub struct Finished {
    /// Listed hits in time order.
    pub hits: Vec<Hit>,
    /// Hits per rule, listed or not.
    pub counts: BTreeMap<String, u64>,
    /// Usage per credential and identity.
    pub usage: UsageBook,
    /// Events hunted.
    pub events: u64,
    /// Events outside --since/--until.
    pub filtered: u64,
    /// Uses after the patch the window built-ins could not judge (a state cap was reached).
    pub unjudged: u64,
}

/// Entries kept per kind of window state (sources per credential, sessions, first uses after
/// the patch): past it, what cannot be judged is counted, so memory stays bounded.
pub const WINDOW_STATE_CAP: usize = 200_000;

/// Per-thread hunt state; merged when the threads finish.
#[derive(Debug, Default)]
pub struct HuntState {
    hits: HitBook,
    pub(crate) usage: UsageBook,
    /// Sources each credential used before the window.
    baseline: HashMap<String, HashSet<String>>,
    /// First use after the patch of each credential from each source, with the hit it would
    /// make.
    after_patch: HashMap<String, HashMap<String, Hit>>,
    /// Access keys created during the window (from CreateAccessKey responses).
    created_in_window: HashSet<String>,
    /// Sessions without an issue time, first seen during the window.
    window_sessions: HashMap<String, Timestamp>,
    /// The first use after the patch of each session without an issue time.
    late_sessions: HashMap<String, Hit>,
    /// Credentials with more pre-window sources than are kept: not judged for new sources.
    too_many_sources: HashSet<String>,
    /// Uses after the patch that could not be judged because a state cap was reached.
    unjudged: u64,
    /// Events outside --since/--until.
    pub(crate) filtered: u64,
    /// Events normalised and hunted.
    pub(crate) events: u64,
    /// Hits per rule, by index into the engine's rules.
    scratch: Vec<usize>,
}

fn position(options: &HuntOptions, time: Timestamp) -> Option<WindowPosition> {
    if options.compromised_at.is_none() && options.patched_at.is_none() {
        None
    } else if options.compromised_at.is_some_and(|c| time < c) {
        Some(WindowPosition::Before)
    } else if options.patched_at.is_some_and(|p| time >= p) {
        Some(WindowPosition::After)
    } else {
        // Without --compromised-at, everything before the patch may be the attacker's.
        Some(WindowPosition::During)
    }
}

fn summary_of(event: &Event) -> String {
    let mut line = event.raw_action.clone();
    if let Some(target) = &event.target {
        line.push_str(" → ");
        line.push_str(target);
    }
    if let Some(actor) = &event.actor_name {
        line.push_str(" by ");
        line.push_str(actor);
    }
    if let Some(source) = &event.source {
        line.push_str(" from ");
        line.push_str(source);
    }
    if let Some(code) = &event.error_code {
        line.push_str(" (failed: ");
        line.push_str(code);
        line.push(')');
    }
    line
}

fn field_str(record: &dyn RecordFields, path: &str) -> Option<String> {
    record
        .get_field(path)
        .and_then(|v| v.as_str().map(|s| s.into_owned()))
}

/// The account of an IAM or STS ARN in any partition (`arn:aws-us-gov:iam::111122223333:root`,
/// `arn:aws:sts::111122223333:assumed-role/R/s`).
fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam" | "sts"), Some(""), Some(account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (partition.starts_with("aws") && !account.is_empty()).then_some(account)
}

/// The 12-digit AWS account ids named as principals in a trust policy document.
fn principal_accounts(policy: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return Vec::new();
    };
    let mut accounts = Vec::new();
    let mut principals = Vec::new();
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    for statement in statements {
        if statement.get("Effect").and_then(|e| e.as_str()) == Some("Deny") {
            continue;
        }
        match statement.get("Principal") {
            Some(serde_json::Value::String(s)) => principals.push(s.clone()),
            Some(serde_json::Value::Object(map)) => {
                if let Some(aws) = map.get("AWS") {
                    match aws {
                        serde_json::Value::String(s) => principals.push(s.clone()),
                        serde_json::Value::Array(list) => principals
                            .extend(list.iter().filter_map(|v| v.as_str().map(str::to_string))),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    for principal in principals {
        if principal == "*" {
            accounts.push("*".to_string());
        } else if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
            accounts.push(principal);
        } else if let Some(account) = arn_account(&principal) {
            accounts.push(account.to_string());
        }
    }
    accounts
}

impl HuntState {
    fn hit(options: &HuntOptions, kind: SourceKind, event: &Event, rule: &HuntRule) -> Hit {
        Hit {
            rule: rule.name.clone(),
            rule_id: rule.id.clone(),
            title: rule.title.clone(),
            severity: rule.severity,
            techniques: rule.techniques.clone(),
            time: event.time,
            window: position(options, event.time),
            source_kind: kind,
            provider: event.provider.as_str().to_string(),
            action: event.raw_action.clone(),
            actor: event.actor_name.clone(),
            credential: event.credential_native_id.clone(),
            target: event.target.clone(),
            created: event.created.clone(),
            source: event.source.clone(),
            user_agent: event.user_agent.clone(),
            summary: summary_of(event),
            event_id: event.id.clone(),
            raw: event.raw.clone(),
        }
    }

    fn builtin_hit(
        options: &HuntOptions,
        kind: SourceKind,
        event: &Event,
        name: &str,
        detail: String,
    ) -> Hit {
        let b = builtin(name);
        Hit {
            rule: b.name.to_string(),
            rule_id: None,
            title: b.title.to_string(),
            severity: b.severity,
            techniques: b.techniques.iter().map(|t| t.to_string()).collect(),
            time: event.time,
            window: position(options, event.time),
            source_kind: kind,
            provider: event.provider.as_str().to_string(),
            action: event.raw_action.clone(),
            actor: event.actor_name.clone(),
            credential: event.credential_native_id.clone(),
            target: event.target.clone(),
            created: event.created.clone(),
            source: event.source.clone(),
            user_agent: event.user_agent.clone(),
            summary: format!("{}: {detail}", summary_of(event)),
            event_id: event.id.clone(),
            raw: event.raw.clone(),
        }
    }

    /// A hunt state whose hit book lists `options.max_hits_per_rule` hits per rule.
    pub fn new(options: &HuntOptions) -> Self {
        HuntState {
            hits: HitBook::new(options.max_hits_per_rule),
            ..HuntState::default()
        }
    }

    /// Lists a hit of `rule` on `event` if the book wants it (building it only then), else
    /// only counts it.
    fn add(&mut self, rule: &str, event: &Event, build: impl FnOnce() -> Hit) {
        if self.hits.wants(rule, event.time, &event.raw) {
            self.hits.push(build());
        } else {
            self.hits.count(rule);
        }
    }

    /// Hunts one normalised event whose raw record is `record`.
    pub fn process(
        &mut self,
        engine: &dyn HuntEngine,
        options: &HuntOptions,
        kind: SourceKind,
        event: &Event,
        record: &dyn RecordFields,
    ) {
        if options.since.is_some_and(|s| event.time < s)
            || options.until.is_some_and(|u| event.time >= u)
        {
            self.filtered += 1;
            return;
        }
        self.events += 1;
        self.usage.record(event);

        let mut matched = std::mem::take(&mut self.scratch);
        matched.clear();
        engine.evaluate(kind, record, &mut matched);
        for &index in &matched {
            if let Some(rule) = engine.rules().get(index) {
                self.add(&rule.name, event, || Self::hit(options, kind, event, rule));
            }
        }
        self.scratch = matched;

        self.indicators(options, kind, event);
        self.window(options, kind, event, record);
        if kind == SourceKind::CloudTrail {
            self.trust_policy(options, kind, event, record);
        }
    }

    fn indicators(&mut self, options: &HuntOptions, kind: SourceKind, event: &Event) {
        if let Some(ip) = event.source_ip
            && let Some(net) = options.ioc_ips.iter().find(|n| n.contains(ip))
        {
            self.add("ioc-ip", event, || {
                Self::builtin_hit(
                    options,
                    kind,
                    event,
                    "ioc-ip",
                    format!("source {ip} is indicator {}/{}", net.addr, net.prefix),
                )
            });
        }
        if let Some(agent) = &event.user_agent
            && !options.ioc_user_agents.is_empty()
        {
            let lower = agent.to_lowercase();
            if let Some(ioc) = options
                .ioc_user_agents
                .iter()
                .find(|ioc| lower.contains(ioc.as_str()))
            {
                self.add("ioc-user-agent", event, || {
                    Self::builtin_hit(
                        options,
                        kind,
                        event,
                        "ioc-user-agent",
                        format!("user agent contains indicator '{ioc}'"),
                    )
                });
            }
        }
    }

    fn window(
        &mut self,
        options: &HuntOptions,
        kind: SourceKind,
        event: &Event,
        record: &dyn RecordFields,
    ) {
        let Some(patched) = options.patched_at else {
            return;
        };
        if event.raw_action == "CreateAccessKey"
            && event.outcome != evict_model::Outcome::Failure
            && options
                .compromised_at
                .is_some_and(|c| event.time >= c && event.time < patched)
            && let Some(key) = field_str(record, "responseElements.accessKey.accessKeyId")
        {
            self.created_in_window.insert(key);
        }
        let issued = event.session.as_ref().and_then(|s| s.issued_at);
        if event.time >= patched
            && let Some(issued) = issued
            && issued < patched
        {
            self.add("session-issued-before-patch-used-after", event, || {
                Self::builtin_hit(
                    options,
                    kind,
                    event,
                    "session-issued-before-patch-used-after",
                    format!("session issued {issued}, before the patch at {patched}"),
                )
            });
        }
        let (Some(compromised), Some(credential), Some(source)) = (
            options.compromised_at,
            event.credential_native_id.as_ref(),
            event.source.as_ref(),
        ) else {
            return;
        };
        // Sessions are judged by when they were issued (above), or, when the log does not say
        // (Okta sessions, some ASIA records), by when they were first seen: a session first
        // seen during the window and still used after the patch. Sessions get no baseline of
        // sources, which would grow with the logs.
        if crate::usage::is_session(event) {
            if issued.is_none() {
                self.session_seen(options, kind, event, credential, compromised, patched);
            }
            return;
        }
        if event.time < compromised {
            match self.baseline.get_mut(credential.as_str()) {
                Some(sources) => {
                    if sources.len() >= WINDOW_STATE_CAP {
                        self.too_many_sources.insert(credential.clone());
                    } else if !sources.contains(source.as_str()) {
                        sources.insert(source.clone());
                    }
                }
                None => {
                    let mut sources = HashSet::default();
                    sources.insert(source.clone());
                    self.baseline.insert(credential.clone(), sources);
                }
            }
        } else if event.time >= patched && issued.is_none_or(|i| i < patched) {
            let earlier = self
                .after_patch
                .get(credential.as_str())
                .and_then(|by_source| by_source.get(source.as_str()))
                .is_some_and(|h| {
                    hit_order(h) <= (event.time, event.raw.file.as_str(), event.raw.offset)
                });
            if !earlier && self.after_patch.len() >= WINDOW_STATE_CAP {
                self.unjudged += 1;
            } else if !earlier {
                let hit = Self::builtin_hit(
                    options,
                    kind,
                    event,
                    "credential-new-source-after-patch",
                    format!("credential {credential} used from {source}"),
                );
                self.after_patch
                    .entry(credential.clone())
                    .or_default()
                    .insert(source.clone(), hit);
            }
        }
    }

    fn session_seen(
        &mut self,
        options: &HuntOptions,
        kind: SourceKind,
        event: &Event,
        session: &str,
        compromised: Timestamp,
        patched: Timestamp,
    ) {
        if event.time >= compromised && event.time < patched {
            let room = self.window_sessions.len() < WINDOW_STATE_CAP;
            match self.window_sessions.get_mut(session) {
                Some(first) => *first = (*first).min(event.time),
                None if room => {
                    self.window_sessions.insert(session.to_string(), event.time);
                }
                None => self.unjudged += 1,
            }
        } else if event.time >= patched {
            let here = (event.time, event.raw.file.as_str(), event.raw.offset);
            match self.late_sessions.get(session) {
                Some(existing) if hit_order(existing) <= here => {}
                Some(_) | None
                    if self.late_sessions.len() < WINDOW_STATE_CAP
                        || self.late_sessions.contains_key(session) =>
                {
                    let hit = Self::builtin_hit(
                        options,
                        kind,
                        event,
                        "session-issued-before-patch-used-after",
                        format!(
                            "session {session} was in use during the window, before the patch at {patched}"
                        ),
                    );
                    self.late_sessions.insert(session.to_string(), hit);
                }
                _ => self.unjudged += 1,
            }
        }
    }

    fn trust_policy(
        &mut self,
        options: &HuntOptions,
        kind: SourceKind,
        event: &Event,
        record: &dyn RecordFields,
    ) {
        if !matches!(
            event.raw_action.as_str(),
            "UpdateAssumeRolePolicy" | "CreateRole"
        ) || event.outcome == evict_model::Outcome::Failure
        {
            return;
        }
        let Some(own) = event.account.clone() else {
            return;
        };
        let policy = field_str(record, "requestParameters.policyDocument")
            .or_else(|| field_str(record, "requestParameters.assumeRolePolicyDocument"));
        let Some(policy) = policy else {
            return;
        };
        let policy = if policy.contains('%') {
            percent_decode(&policy)
        } else {
            policy
        };
        let outside: Vec<String> = principal_accounts(&policy)
            .into_iter()
            .filter(|a| *a != own)
            .collect();
        if !outside.is_empty() {
            self.add("aws-role-trust-outside-account", event, || {
                Self::builtin_hit(
                    options,
                    kind,
                    event,
                    "aws-role-trust-outside-account",
                    format!("trusts account {}", outside.join(", ")),
                )
            });
        }
    }

    /// Folds another thread's state into this one.
    pub fn merge(&mut self, other: HuntState) {
        self.hits.merge(other.hits);
        self.usage.merge(other.usage);
        for (credential, sources) in other.baseline {
            self.baseline.entry(credential).or_default().extend(sources);
        }
        for (credential, by_source) in other.after_patch {
            let mine = self.after_patch.entry(credential).or_default();
            for (source, hit) in by_source {
                match mine.get(&source) {
                    Some(existing) if hit_order(existing) <= hit_order(&hit) => {}
                    _ => {
                        mine.insert(source, hit);
                    }
                }
            }
        }
        self.created_in_window.extend(other.created_in_window);
        for (session, first) in other.window_sessions {
            let slot = self.window_sessions.entry(session).or_insert(first);
            *slot = (*slot).min(first);
        }
        for (session, hit) in other.late_sessions {
            match self.late_sessions.get(&session) {
                Some(existing) if hit_order(existing) <= hit_order(&hit) => {}
                _ => {
                    self.late_sessions.insert(session, hit);
                }
            }
        }
        self.too_many_sources.extend(other.too_many_sources);
        self.unjudged += other.unjudged;
        self.filtered += other.filtered;
        self.events += other.events;
    }

    /// Ends the hunt: emits the hits that needed every event first, and sorts all hits.
    pub fn finish(mut self) -> Finished {
        let mut late: Vec<Hit> = Vec::new();
        for (session, hit) in std::mem::take(&mut self.late_sessions) {
            if self.window_sessions.contains_key(&session) {
                late.push(hit);
            }
        }
        for (credential, by_source) in std::mem::take(&mut self.after_patch) {
            if self.too_many_sources.contains(&credential) {
                self.unjudged += by_source.len() as u64;
                continue;
            }
            for (source, hit) in by_source {
                let new_source = match self.baseline.get(&credential) {
                    Some(sources) => !sources.contains(&source),
                    None => self.created_in_window.contains(&credential),
                };
                if new_source {
                    late.push(hit);
                }
            }
        }
        for hit in late {
            self.hits.push(hit);
        }
        let (hits, counts) = self.hits.finish();
        Finished {
            hits,
            counts,
            usage: self.usage,
            events: self.events,
            filtered: self.filtered,
            unjudged: self.unjudged,
        }
    }
}

fn percent_decode(text: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| Some(hex(bytes[i + 1])? * 16 + hex(bytes[i + 2])?))
            .flatten();
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses() {
        let net: IpNet = "203.0.113.0/24".parse().expect("valid");
        assert!(net.contains("203.0.113.66".parse().expect("ip")));
        assert!(!net.contains("203.0.114.1".parse().expect("ip")));
        let one: IpNet = "203.0.113.66".parse().expect("valid");
        assert!(one.contains("203.0.113.66".parse().expect("ip")));
        assert!(!one.contains("203.0.113.67".parse().expect("ip")));
        let all: IpNet = "0.0.0.0/0".parse().expect("valid");
        assert!(all.contains("8.8.8.8".parse().expect("ip")));
        assert!("203.0.113.0/33".parse::<IpNet>().is_err());
        assert!("not-an-ip".parse::<IpNet>().is_err());
    }

    #[test]
    fn trust_policies_name_their_accounts() {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::444455556666:root","123456789012"]},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(
            principal_accounts(policy),
            vec!["444455556666".to_string(), "123456789012".to_string()]
        );
        assert_eq!(
            principal_accounts(r#"{"Statement":{"Effect":"Allow","Principal":"*"}}"#),
            vec!["*".to_string()]
        );
        assert!(principal_accounts("not json").is_empty());
        let other = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:sts::444455556666:assumed-role/A/s","arn:aws-us-gov:iam::555566667777:root","arn:aws-cn:iam::666677778888:user/x"]}}]}"#;
        assert_eq!(
            principal_accounts(other),
            vec!["444455556666", "555566667777", "666677778888"]
        );
        assert_eq!(
            percent_decode("%7B%22a%22%3A1%7D"),
            r#"{"a":1}"#.to_string()
        );
    }
}

/// Counters a caller can poll to show progress while a hunt runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of records handed to the hunters (after decompression).
    pub bytes: std::sync::atomic::AtomicU64,
    /// Records hunted.
    pub records: std::sync::atomic::AtomicU64,
    /// Files finished.
    pub files: std::sync::atomic::AtomicU64,
}

/// Everything a hunt found and what it could not read.
#[derive(Debug)]
pub struct HuntReport {
    /// Listed hits in time order (at most `max_hits_per_rule` per rule).
    pub hits: Vec<Hit>,
    /// Every rule's hits, listed or not.
    pub hits_by_rule: BTreeMap<String, u64>,
    /// Usage per credential and identity.
    pub usage: UsageBook,
    /// What reading did, including records skipped while normalising (counted by reason, with
    /// file and offset for the first ones).
    pub read: crate::read::ReadSummary,
    /// Events hunted.
    pub events: u64,
    /// Events outside --since/--until.
    pub filtered: u64,
    /// Uses after the patch the window built-ins could not judge (a state cap was reached).
    pub unjudged: u64,
}

/// Hunts `files` (from [`crate::read::input_files`]) with every core: readers take files from
/// a shared queue and hand batches of records to hunters over a bounded channel, so memory stays
/// flat however large the files are, and one large file still uses every core.
pub fn run(
    engine: &dyn HuntEngine,
    files: &[std::path::PathBuf],
    kind: Option<SourceKind>,
    normalizer: &crate::normalize::Normalizer,
    options: &HuntOptions,
    progress: &Progress,
) -> HuntReport {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, mpsc};

    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let readers = threads.min(files.len()).max(1);
    let next_file = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::sync_channel::<crate::read::RecordBatch>(threads * 2);
    let receiver = Mutex::new(receiver);
    let read_total = Mutex::new(crate::read::ReadSummary::default());

    let states: Vec<(HuntState, crate::read::ReadSummary)> = std::thread::scope(|scope| {
        for _ in 0..readers {
            let sender = sender.clone();
            let (next_file, read_total) = (&next_file, &read_total);
            scope.spawn(move || {
                let mut local = crate::read::ReadSummary::default();
                loop {
                    let i = next_file.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let summary = crate::read::read_file(path, kind, &mut |batch| {
                        // A hunter gone means the hunt is over; drop the batch.
                        let _ = sender.send(batch);
                    });
                    local.merge(summary);
                    progress.files.fetch_add(1, Ordering::Relaxed);
                }
                if let Ok(mut total) = read_total.lock() {
                    total.merge(local);
                }
            });
        }
        drop(sender);
        let hunters: Vec<_> = (0..threads)
            .map(|_| {
                let receiver = &receiver;
                scope.spawn(move || {
                    let mut state = HuntState::new(options);
                    let mut skipped = crate::read::ReadSummary::default();
                    loop {
                        let batch = match receiver.lock() {
                            Ok(r) => match r.recv() {
                                Ok(b) => b,
                                Err(_) => break,
                            },
                            Err(_) => break,
                        };
                        // A bug on one record must not lose the other threads' results or
                        // pass for an all-clear: the batch is reported and the hunt goes on.
                        // (Release builds abort on panic, which is loud too.)
                        let outcome =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                hunt_batch(
                                    engine,
                                    normalizer,
                                    options,
                                    &batch,
                                    &mut state,
                                    &mut skipped,
                                )
                            }));
                        if outcome.is_err() {
                            let first = batch.records().next();
                            skipped.problem(
                                "internal error",
                                crate::read::ReadProblem {
                                    file: batch.file().to_string(),
                                    offset: first.map(|r| r.offset),
                                    line: first.map(|r| r.line),
                                    reason: format!(
                                        "internal error while hunting the {} records from here \
                                         (a bug in Evict; please report it): they may be \
                                         partly hunted",
                                        batch.len()
                                    ),
                                },
                            );
                        }
                        let bytes: usize = batch.records().map(|r| r.bytes.len()).sum();
                        progress.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                        progress
                            .records
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    }
                    (state, skipped)
                })
            })
            .collect();
        hunters
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });

    let mut read = read_total.into_inner().unwrap_or_default();
    let mut total = HuntState::new(options);
    for (state, skipped) in states {
        total.merge(state);
        read.merge(skipped);
    }
    let finished = total.finish();
    HuntReport {
        hits: finished.hits,
        hits_by_rule: finished.counts,
        usage: finished.usage,
        read,
        events: finished.events,
        filtered: finished.filtered,
        unjudged: finished.unjudged,
    }
}

fn hunt_batch(
    engine: &dyn HuntEngine,
    normalizer: &crate::normalize::Normalizer,
    options: &HuntOptions,
    batch: &crate::read::RecordBatch,
    state: &mut HuntState,
    skipped: &mut crate::read::ReadSummary,
) {
    let kind = batch.kind();
    for raw in batch.records() {
        let problem = |reason: String| crate::read::ReadProblem {
            file: batch.file().to_string(),
            offset: Some(raw.offset),
            line: Some(raw.line),
            reason,
        };
        let record = match crate::record::LazyRecord::parse(raw.bytes) {
            Ok(r) => r,
            Err(e) => {
                skipped.problem("record not a JSON object", problem(e.to_string()));
                continue;
            }
        };
        match normalizer.normalize(kind, &record, batch.pointer(raw.offset)) {
            Ok(event) => state.process(engine, options, kind, &event, &record),
            Err(e) => skipped.problem(e.category(), problem(e.to_string())),
        }
    }
}
