//! The incident report an auditor receives: self-contained HTML (no external assets), Markdown
//! or JSON, rendered from [`ReportData`]. Rendering is pure; signing is [`crate::signing`].

use std::collections::{BTreeMap, BTreeSet};

use evict_model::{
    ActionKind, ActionState, CredentialKind, EvidenceVerdict, IncidentStatus, PrivilegeTier,
    ResidualReason, Tier,
};
use jiff::Timestamp;
use serde::Serialize;

use crate::gate::{GateReport, Standing};
use crate::plan::{Phase, Plan, PlanStep};
use crate::policy::Subject;
use crate::residual::{ArtifactRef, ResidualArtifact};

/// A point on the report's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEvent {
    /// When.
    pub at: Timestamp,
    /// `hit` (a hunt hit), `evidence`, `exception`, `plan`, `opened`, `closed`.
    pub kind: String,
    /// One line for people.
    pub label: String,
    /// For hits: the severity; for evidence: the verdict.
    pub detail: String,
}

/// An exception, as the report lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportException {
    /// The artifact key.
    pub artifact: String,
    /// Owner.
    pub owner: String,
    /// Approver.
    pub approver: String,
    /// Why.
    pub reason: String,
    /// Until.
    pub expires_at: Timestamp,
}

/// One action of the containment executor, with what the last probe of its artifact said.
#[derive(Debug, Clone, Serialize)]
pub struct ReportAction {
    /// Its place in the plan (the plan's step × 10, follow-ups after it).
    pub step: i64,
    /// The provider it went to.
    pub provider: String,
    /// What was done.
    pub action: ActionKind,
    /// The provider's reference, with its kind (`access_key AKIA…`).
    pub target: String,
    /// The artifact it is for.
    pub artifact: String,
    /// Where it stands.
    pub state: ActionState,
    /// Attempts made.
    pub attempts: i64,
    /// The provider's answer, or why it failed or needs a person.
    pub result: Option<String>,
    /// The latest probe or attestation of its artifact.
    pub evidence: Option<ReportEvidence>,
}

/// What a probe (or a person) last said about an artifact.
#[derive(Debug, Clone, Serialize)]
pub struct ReportEvidence {
    /// Verified revoked, still live, unverified, attested.
    pub verdict: EvidenceVerdict,
    /// When.
    pub at: Timestamp,
    /// Who: `probe:PROVIDER` or the person.
    pub by: String,
}

/// Everything the report shows.
#[derive(Debug, Clone, Serialize)]
pub struct ReportData {
    /// The incident's name.
    pub incident: String,
    /// Its status.
    pub status: IncidentStatus,
    /// Window start.
    pub compromised_at: Timestamp,
    /// Window end.
    pub patched_at: Timestamp,
    /// Scope references.
    pub scope: Vec<String>,
    /// Indicator addresses.
    pub ioc_ips: Vec<String>,
    /// Indicator user agents.
    pub ioc_user_agents: Vec<String>,
    /// When the report was made.
    pub generated_at: Timestamp,
    /// The residual artifacts, tiered.
    pub artifacts: Vec<ResidualArtifact>,
    /// The latest stored plan and its version.
    pub plan: Option<(i64, Plan)>,
    /// The gate's judgement of the latest plan.
    pub gate: Option<GateReport>,
    /// What the containment executor did, in plan order.
    pub actions: Vec<ReportAction>,
    /// Exceptions granted.
    pub exceptions: Vec<ReportException>,
    /// Hits, evidence and decisions over time.
    pub timeline: Vec<TimelineEvent>,
    /// The journal's head hash and entry count when the report was made.
    pub journal_head: String,
    /// Journal entries.
    pub journal_entries: i64,
    /// Evict's version.
    pub evict_version: String,
}

/// Counts of artifacts per tier, in kill, rotate, validate order.
pub fn tier_counts(data: &ReportData) -> [(Tier, usize); 3] {
    [Tier::Kill, Tier::Rotate, Tier::Validate].map(|t| {
        (
            t,
            data.artifacts.iter().filter(|a| a.tier.tier == t).count(),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Rendering. Everything below is pure and deterministic: the same data gives the same bytes
// (no clock, no random ids), so a signed report can be re-rendered and compared.

/// The report's sections in order: the `id` of each HTML `<section>` and its heading, which the
/// Markdown report uses as its `##` headings.
pub const SECTIONS: [(&str, &str); 8] = [
    ("summary", "Summary"),
    ("timeline", "Timeline"),
    ("artifacts", "Artifacts"),
    ("plan", "Plan"),
    ("containment", "Containment"),
    ("exceptions", "Exceptions"),
    ("journal", "Journal"),
    (
        "mapping",
        "Mapping to NIST CSF 2.0 and the OWASP NHI Top 10",
    ),
];

/// At most this many timeline events are drawn: thousands of markers make the chart unreadable
/// and the file slow to open. Larger timelines are thinned evenly and the report says so; the
/// JSON report keeps every event.
pub const MAX_DRAWN_EVENTS: usize = 500;

/// Evidence pointers shown per reason in HTML and Markdown; the JSON report keeps them all.
const MAX_EVIDENCE_SHOWN: usize = 8;

/// Events listed in the Markdown timeline.
const MAX_LISTED_EVENTS: usize = 20;

/// The timeline's lanes: event kind, colour, legend text. Unknown kinds go to the last lane.
const LANES: [(&str, &str, &str); 7] = [
    ("hit", "#c5221f", "hunt hit"),
    ("evidence", "#188038", "evidence"),
    ("exception", "#7b1fa2", "exception"),
    ("plan", "#1a73e8", "plan"),
    ("opened", "#5f6368", "opened"),
    ("closed", "#00796b", "closed"),
    ("other", "#8d6e63", "other"),
];

/// A NIST CSF 2.0 category and how this incident's evidence supports it.
#[derive(Debug, Serialize)]
struct CsfLine {
    id: &'static str,
    name: &'static str,
    count: usize,
    counted: &'static str,
    evidence: String,
}

/// A risk of the OWASP Top 10 Non-Human Identities Risks (2025), the rule that maps artifacts
/// to it, and the artifacts it applies to.
#[derive(Debug, Serialize)]
struct NhiLine {
    id: &'static str,
    name: &'static str,
    rule: &'static str,
    count: usize,
    artifacts: Vec<String>,
}

struct NhiRisk {
    id: &'static str,
    name: &'static str,
    rule: &'static str,
    applies: fn(&ResidualArtifact) -> bool,
}

fn has_reason(a: &ResidualArtifact, reasons: &[ResidualReason]) -> bool {
    a.reasons.iter().any(|r| reasons.contains(&r.reason))
}

fn is_kind(a: &ResidualArtifact, kinds: &[CredentialKind]) -> bool {
    matches!(a.kind, Subject::Credential(k) if kinds.contains(&k))
}

const EXPOSED: &[ResidualReason] = &[
    ResidualReason::ExposedInScope,
    ResidualReason::CopyOfExposed,
];

/// The documented mapping. The report knows reasons, kinds, privilege and use, not expiry
/// dates or whether an identity is a person, so the rules use only those and say so.
const NHI_RISKS: [NhiRisk; 10] = [
    NhiRisk {
        id: "NHI1",
        name: "Improper Offboarding",
        rule: "created during the window or by a foothold (created_during_window, created_by_foothold): access nobody legitimate owns, which must be offboarded",
        applies: |a| {
            has_reason(
                a,
                &[
                    ResidualReason::CreatedDuringWindow,
                    ResidualReason::CreatedByFoothold,
                ],
            )
        },
    },
    NhiRisk {
        id: "NHI2",
        name: "Secret Leakage",
        rule: "a secret seen at a location in scope, or another copy of it (exposed_in_scope, copy_of_exposed)",
        applies: |a| has_reason(a, EXPOSED),
    },
    NhiRisk {
        id: "NHI3",
        name: "Vulnerable Third-Party NHI",
        rule: "access granted to or shared with a third party (kinds oauth_grant, webhook_secret)",
        applies: |a| {
            is_kind(
                a,
                &[CredentialKind::OauthGrant, CredentialKind::WebhookSecret],
            )
        },
    },
    NhiRisk {
        id: "NHI4",
        name: "Insecure Authentication",
        rule: "authentication by password or by a registered device or authenticator, which an attacker can add (kinds password, device)",
        applies: |a| is_kind(a, &[CredentialKind::Password, CredentialKind::Device]),
    },
    NhiRisk {
        id: "NHI5",
        name: "Overprivileged NHI",
        rule: "the owning identity has privileged or admin rights (privilege privileged, admin)",
        applies: |a| {
            matches!(
                a.privilege,
                PrivilegeTier::Privileged | PrivilegeTier::Admin
            )
        },
    },
    NhiRisk {
        id: "NHI6",
        name: "Insecure Cloud Deployment Configurations",
        rule: "a configuration change (trust policy, membership, identity-provider setting) made during the window (changed_during_window, or a change artifact)",
        applies: |a| {
            has_reason(a, &[ResidualReason::ChangedDuringWindow])
                || matches!(&a.artifact, ArtifactRef::Unresolved { what, .. } if what == "change")
        },
    },
    NhiRisk {
        id: "NHI7",
        name: "Long-Lived Secrets",
        rule: "a static kind that does not expire by itself (access_key, api_token, password, ssh_key, signing_key, webhook_secret, client_secret), or a session still valid after the patch (issued_before_patch)",
        applies: |a| {
            has_reason(a, &[ResidualReason::IssuedBeforePatch])
                || is_kind(
                    a,
                    &[
                        CredentialKind::AccessKey,
                        CredentialKind::ApiToken,
                        CredentialKind::Password,
                        CredentialKind::SshKey,
                        CredentialKind::SigningKey,
                        CredentialKind::WebhookSecret,
                        CredentialKind::ClientSecret,
                    ],
                )
        },
    },
    NhiRisk {
        id: "NHI8",
        name: "Environment Isolation",
        rule: "an exposed secret (exposed_in_scope, copy_of_exposed) that is also in recent use: the breached place and a working system share one credential",
        applies: |a| has_reason(a, EXPOSED) && a.disruption.recent_uses > 0,
    },
    NhiRisk {
        id: "NHI9",
        name: "NHI Reuse",
        rule: "the same secret found in more than one place (copy_of_exposed, or several location pointers)",
        applies: |a| {
            let locations = a
                .reasons
                .iter()
                .flat_map(|r| &r.evidence)
                .filter(|e| e.starts_with("location "))
                .collect::<BTreeSet<_>>();
            has_reason(a, &[ResidualReason::CopyOfExposed]) || locations.len() > 1
        },
    },
    NhiRisk {
        id: "NHI10",
        name: "Human Use of NHI",
        rule: "driven by a person: used from an attacker indicator or a new source after the patch (used_from_indicator, used_after_patch_from_new_source), or recently with a browser user agent (Mozilla/...)",
        applies: |a| {
            has_reason(
                a,
                &[
                    ResidualReason::UsedFromIndicator,
                    ResidualReason::UsedAfterPatchFromNewSource,
                ],
            ) || a
                .disruption
                .user_agents
                .iter()
                .any(|(agent, _)| agent.starts_with("Mozilla/"))
        },
    },
];

/// How the gate judged the artifacts of the plan.
#[derive(Debug, Default, Serialize)]
struct GateTally {
    verified: usize,
    attested: usize,
    excepted: usize,
    missing: usize,
}

/// What every format derives from the data, computed once.
struct Derived<'a> {
    steps: BTreeMap<&'a str, Vec<&'a PlanStep>>,
    standings: BTreeMap<&'a str, &'a Standing>,
    tally: GateTally,
    verdict: String,
    csf: Vec<CsfLine>,
    nhi: Vec<NhiLine>,
    timeline_counts: BTreeMap<&'a str, usize>,
}

impl<'a> Derived<'a> {
    fn of(data: &'a ReportData) -> Self {
        let mut steps: BTreeMap<&str, Vec<&PlanStep>> = BTreeMap::new();
        for step in data.plan.iter().flat_map(|(_, plan)| &plan.steps) {
            steps.entry(step.artifact.as_str()).or_default().push(step);
        }
        let lines = data.gate.iter().flat_map(|g| &g.lines);
        let standings = lines
            .clone()
            .map(|l| (l.artifact.as_str(), &l.standing))
            .collect();
        let mut tally = GateTally::default();
        for line in lines {
            match line.standing {
                Standing::Verified => tally.verified += 1,
                Standing::Attested => tally.attested += 1,
                Standing::Excepted { .. } => tally.excepted += 1,
                Standing::Missing { .. } => tally.missing += 1,
            }
        }
        let verdict = match (&data.gate, &data.plan) {
            (Some(g), _) if g.may_close => "may close".to_string(),
            (Some(_), _) => format!("cannot close: {} missing", tally.missing),
            (None, None) => "not judged: no plan yet".to_string(),
            (None, Some(_)) => "not judged yet".to_string(),
        };
        let nhi = NHI_RISKS
            .iter()
            .map(|risk| {
                let artifacts: Vec<String> = data
                    .artifacts
                    .iter()
                    .filter(|a| (risk.applies)(a))
                    .map(|a| a.key.clone())
                    .collect();
                NhiLine {
                    id: risk.id,
                    name: risk.name,
                    rule: risk.rule,
                    count: artifacts.len(),
                    artifacts,
                }
            })
            .collect();
        let mut timeline_counts = BTreeMap::new();
        for e in &data.timeline {
            *timeline_counts.entry(e.kind.as_str()).or_insert(0) += 1;
        }
        let csf = csf_lines(data, &tally, &verdict);
        Derived {
            steps,
            standings,
            tally,
            verdict,
            csf,
            nhi,
            timeline_counts,
        }
    }

    /// The planned actions for an artifact, for people.
    fn planned_action(&self, data: &ReportData, key: &str) -> String {
        let Some((version, _)) = &data.plan else {
            return "no plan yet".into();
        };
        match self.steps.get(key) {
            None => format!("not in plan version {version}"),
            Some(steps) => steps
                .iter()
                .map(|s| match s.after.as_slice() {
                    [] => format!("{} (step {})", s.action, s.order),
                    after => format!("{} (step {}, after {})", s.action, s.order, join(after)),
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    /// Where the gate says an artifact stands, and whether that blocks closing.
    fn standing(&self, data: &ReportData, key: &str) -> (String, bool) {
        match (self.standings.get(key), &data.gate) {
            (_, None) => ("not judged".into(), false),
            (None, Some(_)) => ("not in the judged plan".into(), false),
            (Some(Standing::Verified), _) => ("verified".into(), false),
            (Some(Standing::Attested), _) => ("attested".into(), false),
            (Some(Standing::Excepted { until }), _) => {
                (format!("excepted until {}", when(*until)), false)
            }
            (Some(Standing::Missing { what }), _) => (format!("missing: {what}"), true),
        }
    }
}

fn csf_lines(data: &ReportData, tally: &GateTally, verdict: &str) -> Vec<CsfLine> {
    let [kill, rotate, validate] = tier_counts(data).map(|(_, n)| n);
    let gate = match &data.gate {
        Some(_) => format!(
            "the closure gate finds {} verified by a probe, {} attested, {} under exception and {} missing",
            tally.verified, tally.attested, tally.excepted, tally.missing
        ),
        None => "the closure gate has not judged a plan yet".into(),
    };
    let (steps, plan) = match &data.plan {
        Some((version, plan)) => (
            plan.steps.len(),
            format!(
                "Plan version {version} orders {} steps by phase, each naming the evidence that will prove it took effect; closure gate: {verdict}.",
                plan.steps.len()
            ),
        ),
        None => (
            0,
            "No containment plan has been made yet, so none is being executed.".into(),
        ),
    };
    let privileged = data
        .artifacts
        .iter()
        .filter(|a| {
            matches!(
                a.privilege,
                PrivilegeTier::Privileged | PrivilegeTier::Admin
            )
        })
        .count();
    vec![
        CsfLine {
            id: "RS.MI",
            name: "Incident Mitigation",
            count: tally.verified + tally.attested + tally.excepted,
            counted: "artifacts with closure evidence (verified, attested or excepted)",
            evidence: format!(
                "{kill} artifacts are tiered kill and {rotate} rotate to contain and eradicate the attacker's access; {gate}."
            ),
        },
        CsfLine {
            id: "RC.RP",
            name: "Incident Recovery Plan Execution",
            count: steps,
            counted: "ordered plan steps",
            evidence: plan,
        },
        CsfLine {
            id: "PR.AA",
            name: "Identity Management, Authentication, and Access Control",
            count: data.artifacts.len(),
            counted: "identities, credentials, sessions and grants accounted for",
            evidence: format!(
                "Every identity and credential with residual access is listed with its reasons and evidence ({kill} kill, {rotate} rotate, {validate} validate; {privileged} privileged or admin), and {} an owner, an approver and an end.",
                match data.exceptions.len() {
                    1 => "1 exception names".to_string(),
                    n => format!("{n} exceptions name"),
                }
            ),
        },
    ]
}

fn join(numbers: &[u32]) -> String {
    numbers
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn duration(from: Timestamp, to: Timestamp) -> String {
    let seconds = to.as_second() - from.as_second();
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    match () {
        _ if seconds < 0 => "patched before compromised: check the window".into(),
        _ if days > 0 => format!("{days} d {hours} h"),
        _ if hours > 0 => format!("{hours} h {minutes} min"),
        _ => format!("{minutes} min"),
    }
}

/// `1 event`, `2,000 events`.
fn plural(n: impl std::fmt::Display, noun: &str) -> String {
    let n = thousands(n);
    let suffix = if n == "1" { "" } else { "s" };
    format!("{n} {noun}{suffix}")
}

/// Capitalised, with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |first| {
        format!("{}{}.", first.to_uppercase(), chars.as_str())
    })
}

/// `2,000`: digits grouped for people.
fn thousands(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn recent_use(a: &ResidualArtifact) -> String {
    let d = &a.disruption;
    let last = d
        .last_used_at
        .map(|t| format!(", last {}", when(t)))
        .unwrap_or_default();
    let sources = d
        .sources
        .iter()
        .take(3)
        .map(|(s, n)| format!("{s} ({n})"))
        .collect::<Vec<_>>();
    match (d.recent_uses, sources.is_empty()) {
        (0, _) if d.last_used_at.is_none() => "no use known".into(),
        (0, _) => format!("no recent use{last}"),
        (n, true) => format!("{}{last}", plural(n, "recent use")),
        (n, false) => format!(
            "{}{last}; from {}",
            plural(n, "recent use"),
            sources.join(", ")
        ),
    }
}

fn phase_title(phase: Phase) -> &'static str {
    match phase {
        Phase::CutSessions => "Cut sessions",
        Phase::DeactivateKeys => "Deactivate keys",
        Phase::DisableFootholds => "Disable footholds",
        Phase::DeleteFootholds => "Delete footholds",
        Phase::Rotate => "Rotate",
        Phase::RotateSigningKeys => "Rotate signing keys",
        Phase::Examine => "Examine",
    }
}

/// Control characters and bidirectional overrides in attacker-written logs could hide or
/// reorder text ("Trojan Source"); they are shown as their code point instead.
fn deceptive(c: char) -> Option<String> {
    let bidi =
        matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    ((c.is_control() && c != '\n' && c != '\t') || bidi)
        .then(|| format!("[U+{:04X}]", u32::from(c)))
}

/// Escapes text for HTML content and quoted attributes (also inside inline SVG).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => match deceptive(c) {
                Some(shown) => out.push_str(&shown),
                None => out.push(c),
            },
        }
    }
    out
}

/// Escapes text for Markdown, table cells included: no markup, raw HTML or entity survives.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '!' | '&' => {
                out.push('\\');
                out.push(c);
            }
            c => match deceptive(c) {
                Some(shown) => out.push_str(&shown),
                None => out.push(c),
            },
        }
    }
    out
}

/// Monospace in Markdown when the text cannot break out of a code span, escaped text otherwise.
fn md_code(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@=+ ".contains(c))
    {
        format!("`{text}`")
    } else {
        md(text)
    }
}

fn sorted_events(data: &ReportData) -> Vec<&TimelineEvent> {
    let mut events: Vec<&TimelineEvent> = data.timeline.iter().collect();
    events.sort_by(|a, b| {
        (a.at, &a.kind, &a.label, &a.detail).cmp(&(b.at, &b.kind, &b.label, &b.detail))
    });
    events
}

fn event_text(e: &TimelineEvent) -> String {
    let detail = if e.detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", e.detail)
    };
    format!("{} {}: {}{detail}", when(e.at), e.kind, e.label)
}

// Each section is built once as blocks of cells; HTML and Markdown only differ in how a block
// or cell is written, so the two reports cannot drift apart and escaping happens in one place.

/// A piece of a paragraph, fact or table cell. Text comes from the data and is escaped when
/// written; only the renderers add markup.
enum Cell {
    Text(String),
    /// An identifier, in monospace.
    Code(String),
    /// Identifiers, or "none".
    Codes(Vec<String>),
    Tier(Tier),
    /// A small line under what precedes it.
    Note(String),
    /// Text that says whether closing is blocked (true: blocked).
    Flag(bool, String),
    Many(Vec<Cell>),
    /// Reasons, each with its evidence pointers.
    Reasons(Vec<(String, Vec<String>)>),
}

type Row = (Option<Tier>, Vec<Cell>);

enum Block {
    Facts(Vec<(&'static str, Cell)>),
    Para(Vec<Cell>),
    Note(String),
    Heading(String),
    Table(&'static [&'static str], Vec<Row>),
    /// The HTML report's chart; Markdown has no SVG.
    Chart(String),
    /// The Markdown report's list of first events, in place of the chart.
    Events(Vec<String>),
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn sections(data: &ReportData, d: &Derived<'_>) -> [Vec<Block>; 8] {
    [
        summary(data, d),
        timeline(data, d),
        artifacts(data, d),
        plan(data),
        containment(data),
        exceptions(data),
        journal(data),
        mapping(d),
    ]
}

fn summary(data: &ReportData, d: &Derived<'_>) -> Vec<Block> {
    let mut tiers = Vec::new();
    for (i, (tier, n)) in tier_counts(data).into_iter().enumerate() {
        tiers.extend([
            text(if i == 0 { "" } else { ", " }),
            Cell::Tier(tier),
            text(format!(" {n}")),
        ]);
    }
    let plan = data
        .plan
        .as_ref()
        .map_or("none yet".into(), |(v, _)| v.to_string());
    let window = format!(
        "{} to {} ({})",
        when(data.compromised_at),
        when(data.patched_at),
        duration(data.compromised_at, data.patched_at)
    );
    vec![Block::Facts(vec![
        ("Incident", text(&data.incident)),
        ("Status", text(data.status.as_str())),
        ("Exposure window", text(window)),
        ("Scope", Cell::Codes(data.scope.clone())),
        ("Indicator addresses", Cell::Codes(data.ioc_ips.clone())),
        (
            "Indicator user agents",
            Cell::Codes(data.ioc_user_agents.clone()),
        ),
        ("Artifacts per tier", Cell::Many(tiers)),
        (
            "Closure gate",
            Cell::Flag(
                !data.gate.as_ref().is_some_and(|g| g.may_close),
                d.verdict.clone(),
            ),
        ),
        ("Plan version", text(plan)),
        ("Generated", text(when(data.generated_at))),
        ("Evict version", text(&data.evict_version)),
    ])]
}

fn timeline(data: &ReportData, d: &Derived<'_>) -> Vec<Block> {
    let events = sorted_events(data);
    let (svg, drawn, clamped) = chart(data, &events);
    let mut notes = vec![format!(
        "{}; exposure window {} to {}.",
        plural(events.len(), "event"),
        when(data.compromised_at),
        when(data.patched_at)
    )];
    if drawn < events.len() {
        notes.push(format!(
            "{} of {} events drawn, thinned evenly over time; {} left out of the chart (the JSON report lists every event).",
            thousands(drawn),
            thousands(events.len()),
            thousands(events.len() - drawn)
        ));
    }
    if clamped > 0 {
        notes.push(format!(
            "{} before the chart's start, drawn at its left edge.",
            plural(clamped, "event")
        ));
    }
    let mut listed: Vec<String> = events
        .iter()
        .take(MAX_LISTED_EVENTS)
        .map(|e| event_text(e))
        .collect();
    if events.len() > MAX_LISTED_EVENTS {
        listed.push(format!(
            "… and {} more (the JSON report lists every event)",
            thousands(events.len() - MAX_LISTED_EVENTS)
        ));
    }
    let counts: Vec<Row> = d
        .timeline_counts
        .iter()
        .map(|(k, n)| (None, vec![text(*k), text(thousands(*n))]))
        .collect();
    let mut blocks = vec![
        Block::Chart(svg),
        Block::Note(notes.join(" ")),
        Block::Events(listed),
    ];
    if !counts.is_empty() {
        blocks.push(Block::Table(&["Kind", "Events"], counts));
    }
    blocks
}

/// The timeline chart: the window as a shaded band, one lane per event kind, a time axis from a
/// little before the compromise to the later of the patch and the last event. Returns the SVG,
/// how many events it draws and how many of those were clamped to the left edge.
fn chart(data: &ReportData, events: &[&TimelineEvent]) -> (String, usize, usize) {
    const WIDTH: f64 = 960.0;
    const LEFT: f64 = 96.0;
    const TOP: f64 = 34.0;
    const LANE: f64 = 24.0;
    const HOUR_MS: i64 = 3_600_000;
    let first = data.compromised_at.as_millisecond();
    let last = events
        .last()
        .map_or(data.patched_at, |e| e.at.max(data.patched_at))
        .as_millisecond();
    // A margin on both sides keeps the window's edges and edge markers visible.
    let pad = ((last - first).max(0) / 20).max(HOUR_MS);
    let (start, end) = (first - pad, last.max(first) + pad);
    let plot = WIDTH - LEFT - 24.0;
    let x_of = |ms: i64| LEFT + ((ms - start) as f64 / (end - start) as f64).clamp(0.0, 1.0) * plot;
    let axis_y = TOP + LANE * LANES.len() as f64;
    let height = axis_y + 62.0;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"Timeline of the exposure window, hunt hits, evidence and decisions\" font-family=\"system-ui, sans-serif\" font-size=\"11\">\n<rect width=\"{WIDTH}\" height=\"{height}\" fill=\"#fff\"/>\n"
    );
    for (i, (_, _, legend)) in LANES.iter().enumerate() {
        let y = TOP + LANE * i as f64;
        let fill = if i.is_multiple_of(2) {
            "#f8f9fa"
        } else {
            "#fff"
        };
        let label_y = y + LANE / 2.0 + 4.0;
        svg += &format!(
            "<rect x=\"{LEFT}\" y=\"{y}\" width=\"{plot}\" height=\"{LANE}\" fill=\"{fill}\"/><text x=\"88\" y=\"{label_y}\" text-anchor=\"end\" fill=\"#3c4043\">{legend}</text>\n"
        );
    }
    let (from, to) = (
        x_of(first),
        x_of(data.patched_at.as_millisecond().max(first)),
    );
    let (band_y, band_h, mid) = (TOP - 4.0, axis_y - TOP + 4.0, (from + to) / 2.0);
    let band_title = esc(&format!(
        "exposure window: {} to {}",
        when(data.compromised_at),
        when(data.patched_at)
    ));
    svg += &format!(
        "<rect class=\"window-band\" x=\"{from:.1}\" y=\"{band_y}\" width=\"{:.1}\" height=\"{band_h}\" fill=\"#d93025\" fill-opacity=\"0.12\" stroke=\"#d93025\" stroke-opacity=\"0.6\"><title>{band_title}</title></rect>\n\
         <text x=\"{mid:.1}\" y=\"24\" text-anchor=\"middle\" fill=\"#a50e0e\" font-weight=\"600\">exposure window</text>\n\
         <line x1=\"{LEFT}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#3c4043\"/>\n",
        to - from,
        LEFT + plot,
    );
    for tick in 0..=5_i64 {
        let ms = start + i64::try_from(i128::from(end - start) * i128::from(tick) / 5).unwrap_or(0);
        let anchor = match tick {
            0 => "start",
            5 => "end",
            _ => "middle",
        };
        let label = Timestamp::from_millisecond(ms)
            .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        let (x, y) = (x_of(ms), axis_y);
        svg += &format!(
            "<line x1=\"{x:.1}\" y1=\"{y}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#3c4043\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"#3c4043\">{label}</text>\n",
            y + 5.0,
            y + 18.0
        );
    }
    // Thinned evenly over the sorted events, so the drawn ones still cover the whole range.
    let drawn: Vec<&TimelineEvent> = if events.len() > MAX_DRAWN_EVENTS {
        (0..MAX_DRAWN_EVENTS)
            .filter_map(|i| events.get(i * events.len() / MAX_DRAWN_EVENTS).copied())
            .collect()
    } else {
        events.to_vec()
    };
    let mut clamped = 0;
    for (i, e) in drawn.iter().enumerate() {
        let lane = LANES
            .iter()
            .position(|(kind, _, _)| *kind == e.kind)
            .unwrap_or(LANES.len() - 1);
        let (kind, colour, _) = LANES[lane];
        let ms = e.at.as_millisecond();
        let edge = if ms < start {
            clamped += 1;
            " [earlier than the chart: drawn at its left edge]"
        } else {
            ""
        };
        // A small deterministic offset keeps simultaneous events from hiding one another.
        let y = TOP + LANE * lane as f64 + LANE / 2.0 + ((i % 3) as f64 - 1.0) * 4.0;
        svg += &format!(
            "<circle class=\"marker kind-{kind}\" cx=\"{:.1}\" cy=\"{y}\" r=\"4.5\" fill=\"{colour}\" fill-opacity=\"0.85\" stroke=\"#fff\" stroke-width=\"0.8\"><title>{}{edge}</title></circle>\n",
            x_of(ms),
            esc(&event_text(e)),
        );
    }
    if events.is_empty() {
        svg += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#5f6368\">no events recorded</text>\n",
            LEFT + plot / 2.0,
            TOP + LANE * 3.5
        );
    }
    let legend_y = axis_y + 44.0;
    let mut x = LEFT;
    for (_, colour, text) in std::iter::once(("window", "#d93025", "exposure window")).chain(LANES)
    {
        svg += &format!(
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{colour}\" fill-opacity=\"0.85\"/><text x=\"{}\" y=\"{legend_y}\" fill=\"#3c4043\">{text}</text>\n",
            legend_y - 10.0,
            x + 17.0
        );
        // Room for the label at about 6.5 px a character, then a gap.
        x += 36.0 + 6.5 * text.len() as f64;
    }
    svg.push_str("</svg>\n");
    (svg, drawn.len(), clamped)
}

fn artifacts(data: &ReportData, d: &Derived<'_>) -> Vec<Block> {
    const HEAD: &[&str] = &[
        "Tier",
        "Provider",
        "Kind",
        "Artifact",
        "Reasons, evidence and tier rule",
        "Planned action",
        "Gate standing",
        "Owner",
        "Recent use",
    ];
    if data.artifacts.is_empty() {
        return vec![Block::Note("none: no residual access was found.".into())];
    }
    let rows = data
        .artifacts
        .iter()
        .map(|a| {
            let reasons = a
                .reasons
                .iter()
                .map(|r| {
                    let mut evidence: Vec<String> = r
                        .evidence
                        .iter()
                        .take(MAX_EVIDENCE_SHOWN)
                        .cloned()
                        .collect();
                    if r.evidence.len() > MAX_EVIDENCE_SHOWN {
                        evidence.push(format!(
                            "and {} more (in the JSON report)",
                            thousands(r.evidence.len() - MAX_EVIDENCE_SHOWN)
                        ));
                    }
                    (r.reason.to_string(), evidence)
                })
                .collect();
            let (standing, missing) = d.standing(data, &a.key);
            let tier_rule = Cell::Note(format!("tier rule {}: {}", a.tier.rule, a.tier.why));
            let cells = vec![
                Cell::Tier(a.tier.tier),
                text(&a.provider),
                text(a.kind.as_str()),
                Cell::Many(vec![text(&a.label), text(" "), Cell::Code(a.key.clone())]),
                Cell::Many(vec![Cell::Reasons(reasons), tier_rule]),
                text(d.planned_action(data, &a.key)),
                Cell::Flag(missing, standing),
                text(a.owner.as_deref().unwrap_or("unknown")),
                text(recent_use(a)),
            ];
            (Some(a.tier.tier), cells)
        })
        .collect();
    vec![Block::Table(HEAD, rows)]
}

fn plan(data: &ReportData) -> Vec<Block> {
    const HEAD: &[&str] = &[
        "#",
        "Tier",
        "Action",
        "Artifact",
        "What it breaks",
        "Proof",
        "After",
    ];
    let Some((version, plan)) = &data.plan else {
        return vec![Block::Note(format!(
            "none: no containment plan has been made yet (evict incident plan {}).",
            data.incident
        ))];
    };
    let mut blocks = vec![Block::Para(vec![
        text(format!(
            "Version {version}, made {}, {} steps. Tier policy {}, digest ",
            when(plan.made_at),
            plan.steps.len(),
            plan.policy_origin
        )),
        Cell::Code(plan.policy_digest.clone()),
        text("."),
    ])];
    for group in plan.steps.chunk_by(|a, b| a.phase == b.phase) {
        let Some(phase) = group.first().map(|s| s.phase) else {
            continue;
        };
        let rows = group
            .iter()
            .map(|s| {
                let after = if s.after.is_empty() {
                    "-".into()
                } else {
                    join(&s.after)
                };
                let artifact = Cell::Many(vec![
                    text(&s.label),
                    text(" "),
                    Cell::Code(s.artifact.clone()),
                ]);
                let cells = vec![
                    text(s.order.to_string()),
                    Cell::Tier(s.tier),
                    text(s.action.as_str()),
                    artifact,
                    text(&s.disruption),
                    text(&s.proof),
                    text(after),
                ];
                (Some(s.tier), cells)
            })
            .collect();
        blocks.extend([
            Block::Heading(phase_title(phase).into()),
            Block::Note(sentence(phase.explain())),
            Block::Table(HEAD, rows),
        ]);
    }
    blocks
}

/// The provider's answer as the report shows it: its first line, at most this many characters
/// (the JSON report and the journal keep it whole).
const MAX_RESULT_SHOWN: usize = 240;

fn containment(data: &ReportData) -> Vec<Block> {
    if data.actions.is_empty() {
        return vec![Block::Note(format!(
            "none: no action has been taken through the connectors (evict incident contain {} --execute).",
            data.incident
        ))];
    }
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &data.actions {
        *states.entry(a.state.as_str()).or_default() += 1;
    }
    let counts = states
        .iter()
        .map(|(state, n)| format!("{n} {}", state.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = data
        .actions
        .iter()
        .map(|a| {
            let result = a
                .result
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("");
            let result = if result.chars().count() > MAX_RESULT_SHOWN {
                format!(
                    "{}…",
                    result.chars().take(MAX_RESULT_SHOWN).collect::<String>()
                )
            } else {
                result.to_string()
            };
            let evidence = match &a.evidence {
                Some(e) => format!(
                    "{} by {} at {}",
                    e.verdict.to_string().replace('_', " "),
                    e.by,
                    when(e.at)
                ),
                None => "not probed".into(),
            };
            let cells = vec![
                text((a.step / 10).to_string()),
                text(&a.provider),
                text(a.action.as_str()),
                Cell::Many(vec![
                    Cell::Code(a.target.clone()),
                    Cell::Note(a.artifact.clone()),
                ]),
                Cell::Flag(
                    a.state != ActionState::Done,
                    format!(
                        "{} ({} attempts)",
                        a.state.as_str().replace('_', " "),
                        a.attempts
                    ),
                ),
                text(evidence),
                text(result),
            ];
            (None, cells)
        })
        .collect();
    vec![
        Block::Para(vec![text(format!(
            "{} actions through the connectors: {counts}. Each action is journalled with digests of its request and the provider's answer; only a probe's evidence, never the answer, counts for the closure gate.",
            data.actions.len()
        ))]),
        Block::Table(
            &[
                "#",
                "Provider",
                "Action",
                "Target",
                "State",
                "Last evidence",
                "Provider's answer",
            ],
            rows,
        ),
    ]
}

fn exceptions(data: &ReportData) -> Vec<Block> {
    if data.exceptions.is_empty() {
        return vec![Block::Note("none".into())];
    }
    let rows = data
        .exceptions
        .iter()
        .map(|x| {
            let expired = if x.expires_at <= data.generated_at {
                " (expired)"
            } else {
                ""
            };
            let cells = vec![
                Cell::Code(x.artifact.clone()),
                text(&x.owner),
                text(&x.approver),
                text(&x.reason),
                text(format!("{}{expired}", when(x.expires_at))),
            ];
            (None, cells)
        })
        .collect();
    vec![Block::Table(
        &["Artifact", "Owner", "Approver", "Reason", "Until"],
        rows,
    )]
}

fn journal(data: &ReportData) -> Vec<Block> {
    let head = if data.journal_head.is_empty() {
        text("(empty journal)")
    } else {
        Cell::Code(data.journal_head.clone())
    };
    vec![
        Block::Para(vec![text("Head hash: "), head]),
        Block::Para(vec![text(format!(
            "{} entries when the report was generated.",
            data.journal_entries
        ))]),
        Block::Para(vec![
            text("To check it: "),
            Cell::Code("evict journal verify".into()),
            text(
                " recomputes every entry's hash from the first; run before anything new is journalled, it must report this entry count and this head hash.",
            ),
        ]),
    ]
}

fn mapping(d: &Derived<'_>) -> Vec<Block> {
    let csf = d
        .csf
        .iter()
        .map(|c| {
            (
                None,
                vec![
                    Cell::Code(c.id.into()),
                    text(c.name),
                    text(c.count.to_string()),
                    text(c.counted),
                    text(&c.evidence),
                ],
            )
        })
        .collect();
    let nhi = d
        .nhi
        .iter()
        .map(|n| {
            (
                None,
                vec![
                    Cell::Code(n.id.into()),
                    text(n.name),
                    text(n.count.to_string()),
                    text(n.rule),
                ],
            )
        })
        .collect();
    vec![
        Block::Heading("NIST CSF 2.0".into()),
        Block::Table(&["Id", "Category", "Count", "Counted", "How this incident's evidence supports it"], csf),
        Block::Heading("OWASP Top 10 Non-Human Identities Risks (2025)".into()),
        Block::Table(&["Id", "Risk", "Artifacts", "Mapping rule"], nhi),
        Block::Note(
            "An artifact can count for several risks. The report records reasons, kinds, privilege and use, not expiry dates or whether an identity is a person, so the rules use only those."
                .into(),
        ),
    ]
}

const STYLE: &str = "\
:root{--kill:#b3261e;--rotate:#8a4b00;--validate:#1b5fa8;--ink:#1f1f1f;--muted:#5f6368;--line:#d3d6db}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 .2em}
h2{font-size:1.25em;border-bottom:2px solid var(--ink);padding-bottom:.2em;margin-top:1.8em}
h3{font-size:1.05em;margin:1.2em 0 .2em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f1f3f4}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em;overflow-wrap:break-word}
#plan table{table-layout:fixed}#plan td{overflow-wrap:anywhere}
#plan th:nth-child(1){width:2.5em}#plan th:nth-child(2){width:6em}#plan th:nth-child(3){width:11.5em}
#plan th:nth-child(4){width:24%}#plan th:nth-child(5){width:12%}#plan th:nth-child(7){width:4em}
ul{margin:.1em 0;padding-left:1.1em}
ul.evidence{font-size:.85em;color:var(--muted)}
.note{color:var(--muted);font-size:.92em}
.tier{display:inline-block;padding:1px 6px;border-radius:3px;font-weight:700;font-size:.82em;color:#fff;letter-spacing:.04em}
.tier-kill{background:var(--kill)}.tier-rotate{background:var(--rotate)}.tier-validate{background:var(--validate)}
tr.row-kill>td:first-child{border-left:4px solid var(--kill)}
tr.row-rotate>td:first-child{border-left:4px dashed var(--rotate)}
tr.row-validate>td:first-child{border-left:4px dotted var(--validate)}
.ok{color:#137333;font-weight:700}.bad{color:var(--kill);font-weight:700}
dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px}
dt{font-weight:600}dd{margin:0}
svg.chart{width:100%;height:auto;border:1px solid var(--line)}
@media print{body{max-width:none;padding:0;font-size:11px}tr,li,svg,dl{break-inside:avoid;page-break-inside:avoid}h2,h3{break-after:avoid;page-break-after:avoid}thead{display:table-header-group}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
";

fn html_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => esc(s),
        Cell::Code(s) => format!("<code>{}</code>", esc(s)),
        Cell::Codes(items) if items.is_empty() => "none".into(),
        Cell::Codes(items) => items
            .iter()
            .map(|s| format!("<code>{}</code>", esc(s)))
            .collect::<Vec<_>>()
            .join(", "),
        Cell::Tier(t) => format!(
            "<span class=\"tier tier-{t}\">{}</span>",
            t.as_str().to_uppercase()
        ),
        Cell::Note(s) => format!("<div class=\"note\">{}</div>", esc(s)),
        Cell::Flag(bad, s) => format!(
            "<span class=\"{}\">{}</span>",
            if *bad { "bad" } else { "ok" },
            esc(s)
        ),
        Cell::Many(cells) => cells.iter().map(html_cell).collect(),
        Cell::Reasons(reasons) => {
            let items: String = reasons
                .iter()
                .map(|(reason, evidence)| {
                    let evidence: String = evidence
                        .iter()
                        .map(|e| format!("<li>{}</li>", esc(e)))
                        .collect();
                    format!(
                        "<li>{}<ul class=\"evidence\">{evidence}</ul></li>",
                        esc(reason)
                    )
                })
                .collect();
            format!("<ul>{items}</ul>")
        }
    }
}

fn html_block(block: &Block) -> String {
    match block {
        Block::Facts(facts) => {
            let items: String = facts
                .iter()
                .map(|(k, v)| format!("<dt>{k}</dt><dd>{}</dd>\n", html_cell(v)))
                .collect();
            format!("<dl>\n{items}</dl>\n")
        }
        Block::Para(cells) => format!(
            "<p>{}</p>\n",
            cells.iter().map(html_cell).collect::<String>()
        ),
        Block::Note(s) => format!("<p class=\"note\">{}</p>\n", esc(s)),
        Block::Heading(s) => format!("<h3>{}</h3>\n", esc(s)),
        Block::Table(head, rows) => {
            let head: String = head.iter().map(|h| format!("<th>{h}</th>")).collect();
            let rows: String = rows
                .iter()
                .map(|(tier, cells)| {
                    let class = tier
                        .map(|t| format!(" class=\"row-{t}\""))
                        .unwrap_or_default();
                    format!(
                        "<tr{class}>{}</tr>\n",
                        cells
                            .iter()
                            .map(|c| format!("<td>{}</td>", html_cell(c)))
                            .collect::<String>()
                    )
                })
                .collect();
            format!("<table><thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody></table>\n")
        }
        Block::Chart(svg) => svg.clone(),
        Block::Events(_) => String::new(),
    }
}

/// Renders the self-contained HTML report: inline CSS and SVG, no script and no external
/// request (its Content-Security-Policy forbids both), every piece of data escaped.
pub fn render_html(data: &ReportData) -> String {
    let d = Derived::of(data);
    let name = esc(&data.incident);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Incident report: {name}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>Incident report: {name}</h1>\n<p class=\"note\">{}</p></header>\n<main>\n",
        esc(&preamble(data)),
    );
    for ((id, heading), blocks) in SECTIONS.iter().zip(sections(data, &d)) {
        let body: String = blocks.iter().map(html_block).collect();
        out += &format!("<section id=\"{id}\">\n<h2>{heading}</h2>\n{body}</section>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn preamble(data: &ReportData) -> String {
    format!(
        "Residual access, containment and closure evidence, generated by Evict {} at {}. Artifacts are named by identifiers, previews and fingerprints, never by secret values.",
        data.evict_version,
        when(data.generated_at)
    )
}

fn md_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => md(s),
        Cell::Code(s) => md_code(s),
        Cell::Codes(items) if items.is_empty() => "none".into(),
        Cell::Codes(items) => items
            .iter()
            .map(|s| md_code(s))
            .collect::<Vec<_>>()
            .join(", "),
        Cell::Tier(t) => format!("**{}**", t.as_str().to_uppercase()),
        Cell::Note(s) => format!(" ({})", md(s)),
        Cell::Flag(true, s) => format!("**{}**", md(s)),
        Cell::Flag(false, s) => md(s),
        Cell::Many(cells) => cells.iter().map(md_cell).collect(),
        // A table cell holds one line: reasons are separated by line breaks.
        Cell::Reasons(reasons) => reasons
            .iter()
            .map(|(reason, evidence)| {
                format!(
                    "**{}**: {}",
                    md(reason),
                    evidence
                        .iter()
                        .map(|e| md(e))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })
            .collect::<Vec<_>>()
            .join("<br>"),
    }
}

fn md_block(block: &Block) -> String {
    match block {
        Block::Facts(facts) => {
            facts
                .iter()
                .map(|(k, v)| format!("- **{k}:** {}\n", md_cell(v)))
                .collect::<String>()
                + "\n"
        }
        Block::Para(cells) => format!("{}\n\n", cells.iter().map(md_cell).collect::<String>()),
        Block::Note(s) => format!("{}\n\n", md(s)),
        Block::Heading(s) => format!("### {}\n\n", md(s)),
        Block::Table(head, rows) => {
            let mut out = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
            for (_, cells) in rows {
                out += &format!(
                    "| {} |\n",
                    cells.iter().map(md_cell).collect::<Vec<_>>().join(" | ")
                );
            }
            out + "\n"
        }
        Block::Chart(_) => String::new(),
        Block::Events(events) if events.is_empty() => String::new(),
        Block::Events(events) => {
            events
                .iter()
                .map(|e| format!("- {}\n", md(e)))
                .collect::<String>()
                + "\n"
        }
    }
}

/// Renders the Markdown report: the HTML report's sections as `##` headings, the chart replaced
/// by a list of the first events.
pub fn render_markdown(data: &ReportData) -> String {
    let d = Derived::of(data);
    let mut out = format!(
        "# Incident report: {}\n\n{}\n\n",
        md(&data.incident),
        md(&preamble(data))
    );
    for ((_, heading), blocks) in SECTIONS.iter().zip(sections(data, &d)) {
        // Every block ends with a blank line, so headings need none before them.
        out += &format!("## {heading}\n\n");
        out.extend(blocks.iter().map(md_block));
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Renders the JSON report: the data, then what the other formats compute from it (tier and
/// gate counts, the verdict, events per kind, the NIST CSF and OWASP NHI mappings with the
/// artifacts each NHI risk applies to). Keys come in a fixed order.
pub fn render_json(data: &ReportData) -> String {
    #[derive(Serialize)]
    struct JsonReport<'a> {
        format: &'static str,
        data: &'a ReportData,
        tier_counts: BTreeMap<Tier, usize>,
        gate_verdict: &'a str,
        gate_counts: &'a GateTally,
        timeline_counts: &'a BTreeMap<&'a str, usize>,
        csf: &'a [CsfLine],
        nhi: &'a [NhiLine],
    }
    let d = Derived::of(data);
    let report = JsonReport {
        format: "evict.incident.report.v1",
        data,
        tier_counts: tier_counts(data).into_iter().collect(),
        gate_verdict: &d.verdict,
        gate_counts: &d.tally,
        timeline_counts: &d.timeline_counts,
        csf: &d.csf,
        nhi: &d.nhi,
    };
    match serde_json::to_string_pretty(&report) {
        Ok(json) => json + "\n",
        // Unreachable with these types (only string keys); still an answer, not a panic.
        Err(e) => format!("{}\n", serde_json::json!({ "error": e.to_string() })),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use evict_model::EvidenceVerdict;

    use super::*;
    use crate::gate::{EvidenceFacts, ExceptionFacts, closure_gate};
    use crate::plan::build_plan;
    use crate::policy::{Policy, TierFacts};
    use crate::residual::{Disruption, ReasonWithEvidence};

    const EVIL: &str = "<script>alert(1)</script> \"quotes\"";
    const EVIL_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt; &quot;quotes&quot;";

    fn t(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn credential(id: &str) -> ArtifactRef {
        ArtifactRef::Credential { id: id.into() }
    }

    fn artifact(
        artifact: ArtifactRef,
        label: &str,
        kind: Subject,
        privilege: PrivilegeTier,
        reasons: &[(ResidualReason, &str)],
        recent_uses: u64,
    ) -> ResidualArtifact {
        let facts = TierFacts {
            reasons: reasons.iter().map(|(r, _)| *r).collect(),
            subject: kind,
            privilege,
            recent_uses,
        };
        ResidualArtifact {
            key: artifact.key(),
            artifact,
            owner: Some("team-platform".into()),
            provider: "aws".into(),
            label: label.into(),
            kind,
            identity: None,
            privilege,
            reasons: reasons
                .iter()
                .map(|(reason, e)| ReasonWithEvidence {
                    reason: *reason,
                    evidence: vec![e.to_string()],
                })
                .collect(),
            tier: Policy::default_policy().decide(&facts),
            disruption: Disruption {
                recent_uses,
                ..Disruption::default()
            },
            usage_key: None,
        }
    }

    fn event(at: &str, kind: &str, label: &str) -> TimelineEvent {
        TimelineEvent {
            at: t(at),
            kind: kind.into(),
            label: label.into(),
            detail: "high".into(),
        }
    }

    /// Three kill (one unresolved), two rotate, one validate; a plan, a gate that cannot close,
    /// an exception, and a timeline with one event long before the window.
    fn sample() -> ReportData {
        use CredentialKind as K;
        use PrivilegeTier as P;
        use ResidualReason as R;
        let artifacts = vec![
            artifact(
                credential("c_evil"),
                EVIL,
                Subject::Credential(K::AccessKey),
                P::Admin,
                &[(
                    R::UsedFromIndicator,
                    "hunt ioc-ip at trail.json@120: ListBuckets",
                )],
                0,
            ),
            artifact(
                ArtifactRef::Unresolved {
                    provider: "aws".into(),
                    what: "identity".into(),
                    reference: "backdoor".into(),
                },
                "identity backdoor (not in the inventory)",
                Subject::Identity,
                P::Unknown,
                &[(
                    R::CreatedDuringWindow,
                    "hunt create-user at trail.json@9: CreateUser",
                )],
                0,
            ),
            artifact(
                credential("c_sess"),
                "session s-1",
                Subject::Credential(K::Session),
                P::Standard,
                &[(R::IssuedBeforePatch, "inventory c_sess: issued 2025-03-01")],
                0,
            ),
            artifact(
                credential("c_tok"),
                "ghp_ab12…|pipe",
                Subject::Credential(K::ApiToken),
                P::Privileged,
                &[
                    (
                        R::ExposedInScope,
                        "location repo:app/.env:3 (scope repo:app)",
                    ),
                    (
                        R::CopyOfExposed,
                        "location host:ci/.env:1 (outside the scope)",
                    ),
                ],
                12,
            ),
            artifact(
                credential("c_sign"),
                "okta signing key",
                Subject::Credential(K::SigningKey),
                P::Unknown,
                &[(R::SigningKeyInScope, "scope system:okta")],
                0,
            ),
            artifact(
                credential("c_val"),
                "AKIAVALIDATE",
                Subject::Credential(K::AccessKey),
                P::Standard,
                &[(R::IdentityInScope, "scope identity:i_1")],
                0,
            ),
        ];
        let now = t("2025-03-04T00:00:00Z");
        let plan = build_plan(
            "breach-7",
            &artifacts,
            &Policy::default_policy(),
            t("2025-03-02T12:00:00Z"),
        );
        let evidence = [
            ("c_evil", EvidenceVerdict::VerifiedRevoked),
            ("c_val", EvidenceVerdict::Attested),
        ]
        .map(|(artifact, verdict)| EvidenceFacts {
            artifact: artifact.into(),
            verdict,
            at: now,
        });
        let until = t("2025-06-01T00:00:00Z");
        let excepted = [ExceptionFacts {
            artifact: "c_sign".into(),
            expires_at: until,
        }];
        let gate = closure_gate(&plan, 3, &evidence, &excepted, &[], false, now);
        ReportData {
            incident: "breach-7".into(),
            status: IncidentStatus::Contained,
            compromised_at: t("2025-03-01T00:00:00Z"),
            patched_at: t("2025-03-02T00:00:00Z"),
            scope: vec!["repo:app".into(), "system:okta".into()],
            ioc_ips: vec!["203.0.113.9".into()],
            ioc_user_agents: vec![],
            generated_at: now,
            artifacts,
            plan: Some((3, plan)),
            gate: Some(gate),
            actions: vec![
                ReportAction {
                    step: 10,
                    provider: "aws".into(),
                    action: ActionKind::Disable,
                    target: "access_key AKIAEVIL".into(),
                    artifact: "c_evil".into(),
                    state: ActionState::Done,
                    attempts: 1,
                    result: Some("iam:UpdateAccessKey AKIAEVIL Status=Inactive".into()),
                    evidence: Some(ReportEvidence {
                        verdict: EvidenceVerdict::VerifiedRevoked,
                        at: now,
                        by: "probe:aws".into(),
                    }),
                },
                ReportAction {
                    step: 20,
                    provider: "github".into(),
                    action: ActionKind::Revoke,
                    target: "api_token c_tok".into(),
                    artifact: "c_tok".into(),
                    state: ActionState::NeedsManual,
                    attempts: 0,
                    result: Some("evict has no connector for github yet".into()),
                    evidence: None,
                },
            ],
            exceptions: vec![ReportException {
                artifact: "c_sign".into(),
                owner: "team-identity".into(),
                approver: "ciso".into(),
                reason: EVIL.into(),
                expires_at: until,
            }],
            timeline: vec![
                event("2025-03-01T06:00:00Z", "hit", &format!("ioc-ip {EVIL}")),
                event("2025-03-03T00:00:00Z", "evidence", "c_evil verified"),
                event("2025-03-02T12:00:00Z", "plan", "plan version 3"),
                event("2025-01-01T00:00:00Z", "hit", "long before the window"),
            ],
            journal_head: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            journal_entries: 42,
            evict_version: "0.1.0".into(),
        }
    }

    #[test]
    fn containment_lists_each_action_with_its_state_and_last_evidence() {
        let markdown = render_markdown(&sample());
        let section = markdown
            .split("\n## Containment\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .unwrap();
        assert!(
            section.contains("2 actions through the connectors: 1 done, 1 needs manual"),
            "{section}"
        );
        assert!(section.contains("AKIAEVIL"), "{section}");
        assert!(
            section.contains("verified revoked by probe:aws"),
            "{section}"
        );
        assert!(section.contains("needs manual (0 attempts)"), "{section}");
        let mut none = sample();
        none.actions.clear();
        assert!(render_markdown(&none).contains("no action has been taken through the connectors"));
    }

    #[test]
    fn sections_appear_once_in_order() {
        let html = render_html(&sample());
        assert!(
            html.starts_with(
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
            )
        );
        assert!(
            html.ends_with("</html>\n"),
            "the signature line goes after a newline"
        );
        let mut last = 0;
        for (id, heading) in SECTIONS {
            let tag = format!("<section id=\"{id}\">\n<h2>{heading}</h2>");
            assert_eq!(html.matches(&tag).count(), 1, "{id}");
            let at = html.find(&tag).unwrap();
            assert!(at > last, "{id} out of order");
            last = at;
        }
        assert_eq!(
            html.matches(" id=\"").count(),
            SECTIONS.len(),
            "no other element has an id"
        );
    }

    #[test]
    fn timeline_draws_the_window_band_and_every_event() {
        let html = render_html(&sample());
        assert_eq!(html.matches("<rect class=\"window-band\"").count(), 1);
        assert!(html.contains(">exposure window</text>"));
        assert_eq!(html.matches("<circle class=\"marker").count(), 4);
        assert_eq!(html.matches("class=\"marker kind-hit\"").count(), 2);
        // The event of January is clamped to the left edge of the plot and says so.
        assert!(html.contains("cx=\"96.0\""));
        assert!(html.contains(
            "long before the window (high) [earlier than the chart: drawn at its left edge]"
        ));
        assert!(html.contains("1 event before the chart&#39;s start, drawn at its left edge."));
        assert!(
            html.contains(">hunt hit</text>") && html.contains(">evidence</text>"),
            "legend"
        );
    }

    #[test]
    fn attacker_controlled_text_is_inert() {
        let html = render_html(&sample());
        assert!(!html.contains("<script") && !html.contains("\"quotes\""));
        // Label, SVG tooltip and exception reason.
        assert!(html.matches(EVIL_ESCAPED).count() >= 3);
        assert!(html.contains(&format!(
            "<title>2025-03-01 06:00:00 UTC hit: ioc-ip {EVIL_ESCAPED} (high)</title>"
        )));
        let markdown = render_markdown(&sample());
        assert!(
            !markdown.replace("\\<", "").contains("<script"),
            "every < is escaped"
        );
        assert!(markdown.contains("\\<script\\>alert(1)\\</script\\>"));
        assert_eq!(esc("a\u{202E}b\u{0}c'"), "a[U+202E]b[U+0000]c&#39;");
        assert_eq!(md("x|y*z\n&lt;"), "x\\|y\\*z \\&lt;");
    }

    #[test]
    fn html_makes_no_external_requests() {
        let html = render_html(&sample());
        for reference in [
            "http://", "https://", "src=", "href=", "url(", "@import", "<link", "<img", "<iframe",
            "<script",
        ] {
            assert!(!html.contains(reference), "{reference}");
        }
        assert!(html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'\""));
    }

    #[test]
    fn empty_and_huge_timelines_render() {
        let mut data = sample();
        data.timeline.clear();
        let html = render_html(&data);
        assert!(
            html.contains(">no events recorded</text>") && html.contains("class=\"window-band\"")
        );
        assert_eq!(html.matches("<circle class=\"marker").count(), 0);

        let start = data.compromised_at;
        data.timeline = (0..2_000)
            .map(|n| TimelineEvent {
                at: start + jiff::SignedDuration::from_mins(n),
                kind: ["hit", "evidence", "odd-kind"][(n % 3) as usize].into(),
                label: format!("event {n}"),
                detail: String::new(),
            })
            .collect();
        let html = render_html(&data);
        assert_eq!(
            html.matches("<circle class=\"marker").count(),
            MAX_DRAWN_EVENTS
        );
        assert!(html.contains(
            "500 of 2,000 events drawn, thinned evenly over time; 1,500 left out of the chart"
        ));
        assert!(
            html.contains("class=\"marker kind-other\""),
            "unknown kinds get the last lane"
        );
        assert!(render_markdown(&data).contains("- … and 1,980 more"));
    }

    #[test]
    fn markdown_has_the_same_sections_and_escaped_cells() {
        let markdown = render_markdown(&sample());
        let mut last = 0;
        for (_, heading) in SECTIONS {
            let line = format!("\n## {heading}\n");
            assert_eq!(markdown.matches(&line).count(), 1, "{heading}");
            let at = markdown.find(&line).unwrap();
            assert!(at > last);
            last = at;
        }
        assert!(markdown.contains("ghp\\_ab12…\\|pipe") && !markdown.contains("…|pipe"));
        // Every table row has as many cells as its header.
        for line in markdown
            .lines()
            .filter(|l| l.starts_with("| Tier | Provider"))
        {
            assert_eq!(line.matches(" | ").count(), 8);
        }
        for line in markdown.lines().filter(|l| l.starts_with("| **KILL** (")) {
            assert_eq!(line.replace("\\|", "").matches(" | ").count(), 8, "{line}");
        }
        assert!(markdown.contains("- **Closure gate:** **cannot close: 3 missing**"));
        assert!(markdown.ends_with(".\n") && !markdown.ends_with("\n\n"));
    }

    #[test]
    fn json_carries_the_data_counts_and_mappings() {
        let json: serde_json::Value = serde_json::from_str(&render_json(&sample())).unwrap();
        assert_eq!(json["data"]["incident"], "breach-7");
        assert_eq!(
            json["tier_counts"],
            serde_json::json!({ "kill": 3, "rotate": 2, "validate": 1 })
        );
        assert_eq!(json["gate_verdict"], "cannot close: 3 missing");
        assert_eq!(json["timeline_counts"]["hit"], 2);
        let nhi: Vec<(String, u64)> = json["nhi"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["id"].as_str().unwrap().to_string(),
                    n["count"].as_u64().unwrap(),
                )
            })
            .collect();
        let expected = [1, 1, 0, 0, 2, 0, 5, 1, 1, 1];
        let ids: Vec<String> = (1..=10).map(|n| format!("NHI{n}")).collect();
        assert_eq!(nhi, ids.into_iter().zip(expected).collect::<Vec<_>>());
        assert_eq!(json["nhi"][8]["artifacts"], serde_json::json!(["c_tok"]));
        let csf: Vec<&str> = json["csf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(csf, ["RS.MI", "RC.RP", "PR.AA"]);
        let steps = json["data"]["plan"][1]["steps"].as_array().unwrap().len();
        assert_eq!(json["csf"][1]["count"], steps);
        assert_eq!(
            json["csf"][0]["count"], 3,
            "verified, attested and excepted"
        );
    }

    #[test]
    fn tables_show_plan_gate_and_zero_counts() {
        let html = render_html(&sample());
        assert!(
            html.contains(
                "<td><code>NHI3</code></td><td>Vulnerable Third-Party NHI</td><td>0</td>"
            )
        );
        assert!(html.contains("<span class=\"tier tier-kill\">KILL</span>"));
        assert!(html.contains("<span class=\"bad\">cannot close: 3 missing</span>"));
        assert!(html.contains("<span class=\"ok\">verified</span>"));
        assert!(html.contains("excepted until 2025-06-01 00:00:00 UTC"));
        assert!(
            html.contains("disable (step ") && html.contains("delete (step "),
            "foothold disabled, then deleted"
        );
        assert!(html.contains(&sentence(Phase::CutSessions.explain())));
        assert!(html.contains("<code>evict journal verify</code>"));

        let mut bare = sample();
        (bare.plan, bare.gate, bare.exceptions) = (None, None, Vec::new());
        let html = render_html(&bare);
        assert!(
            html.contains("not judged: no plan yet") && html.contains("none: no containment plan")
        );
        assert!(html.contains(
            "<section id=\"exceptions\">\n<h2>Exceptions</h2>\n<p class=\"note\">none</p>"
        ));
    }

    #[test]
    fn rendering_is_deterministic() {
        let data = sample();
        assert_eq!(render_html(&data), render_html(&data));
        assert_eq!(render_markdown(&data), render_markdown(&data));
        assert_eq!(render_json(&data), render_json(&data));
    }
}
