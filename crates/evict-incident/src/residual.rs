//! Residual access: every artifact an incident must deal with, each with every reason that put
//! it there and pointers to the evidence (inventory rows, scan locations, hunt hits).
//!
//! Pure: the caller loads the inventory, locations and hunt hits; this decides. An artifact is
//! never left out for lack of an inventory row: a foothold the inventory does not know (a user
//! the attacker made, a session key only the logs saw) is listed as unresolved, by the
//! provider's own reference, so it cannot be forgotten.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use evict_model::{
    Credential, CredentialKind, CredentialStatus, Identity, IdentityStatus, Location,
    PrivilegeTier, ResidualReason, Usage,
};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::policy::{Policy, Subject, TierDecision, TierFacts};
use crate::scope::{ScopeKind, ScopeRef, Window, location_in_scope};

/// A hunt hit as the residual computation needs it.
#[derive(Debug, Clone)]
pub struct HitFacts {
    /// The rule's name (a Sigma rule's, or a built-in's such as `ioc-ip`).
    pub rule: String,
    /// ATT&CK technique ids of the rule.
    pub techniques: Vec<String>,
    /// When the event happened.
    pub at: Timestamp,
    /// The provider (`aws`, `okta`, `github`, …).
    pub provider: String,
    /// The provider's action name.
    pub action: String,
    /// Who acted (user name, login, ARN tail).
    pub actor: Option<String>,
    /// The actor's credential (access key id, token id).
    pub credential: Option<String>,
    /// What the action was done to.
    pub target: Option<String>,
    /// The provider's id of what the action created, when the record names it.
    pub created: Option<String>,
    /// One line for people.
    pub summary: String,
    /// Where the raw record is, `file@offset`.
    pub pointer: String,
}

/// A secret location with its credential.
#[derive(Debug, Clone)]
pub struct LocationFacts {
    /// The credential id.
    pub credential_id: String,
    /// Where it was seen.
    pub location: Location,
}

/// Usage of one credential from stored hunts, keyed by provider and native id.
pub type UsageIndex = HashMap<(String, String), Usage>;

/// Everything the computation reads.
pub struct ResidualInputs<'a> {
    /// The window.
    pub window: Window,
    /// The scope, as stored (`identity:i_…`, `repo:PATH`, …).
    pub scope: &'a [ScopeRef],
    /// The clock.
    pub now: Timestamp,
    /// Every identity in the inventory.
    pub identities: &'a [Identity],
    /// Every credential in the inventory.
    pub credentials: &'a [Credential],
    /// Every stored secret location.
    pub locations: &'a [LocationFacts],
    /// Every stored hunt hit.
    pub hits: &'a [HitFacts],
    /// Paths made comparable (canonical where they exist).
    pub normalise: &'a dyn Fn(&str) -> String,
}

/// What an artifact is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ArtifactRef {
    /// An identity in the inventory.
    Identity {
        /// Evict id.
        id: String,
    },
    /// A credential in the inventory.
    Credential {
        /// Evict id.
        id: String,
    },
    /// Something only the logs know: a user, key, session or change the inventory has no
    /// row for. Import or discover the provider to resolve it.
    Unresolved {
        /// The provider.
        provider: String,
        /// `identity`, `credential`, `session` or `change`.
        what: String,
        /// The provider's reference (user name, key id, action and target).
        reference: String,
    },
}

/// One reason with the evidence for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonWithEvidence {
    /// Why.
    pub reason: ResidualReason,
    /// Pointers: `scope …`, `location …`, `hunt RULE at FILE@OFFSET: summary`.
    pub evidence: Vec<String>,
}

/// What a kill would break: recent use of the artifact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Disruption {
    /// Uses within the policy's recent-use period (events from stored hunts, or 1 when only
    /// the inventory's last-used time falls in it).
    pub recent_uses: u64,
    /// Last use known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
    /// Source addresses with counts, most used first (at most five).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<(String, u64)>,
    /// User agents with counts (at most five).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_agents: Vec<(String, u64)>,
    /// Actions with counts (at most five).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<(String, u64)>,
}

impl ArtifactRef {
    /// The short, stable name responders type (`evict incident attest NAME KEY`): the Evict id
    /// for inventory rows, `provider:what:reference` for the rest.
    pub fn key(&self) -> String {
        match self {
            ArtifactRef::Identity { id } | ArtifactRef::Credential { id } => id.clone(),
            ArtifactRef::Unresolved {
                provider,
                what,
                reference,
            } => format!("{provider}:{what}:{reference}"),
        }
    }
}

/// An artifact of the residual access set.
#[derive(Debug, Clone, Serialize)]
pub struct ResidualArtifact {
    /// The stable key of [`ArtifactRef::key`].
    pub key: String,
    /// What it is.
    pub artifact: ArtifactRef,
    /// The owner of its identity, when the inventory says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Provider.
    pub provider: String,
    /// A name for people: identity name, credential preview or key, provider reference.
    pub label: String,
    /// Identity or credential kind.
    pub kind: Subject,
    /// The identity it belongs to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The owning identity's privilege.
    pub privilege: PrivilegeTier,
    /// Every reason, with evidence.
    pub reasons: Vec<ReasonWithEvidence>,
    /// The tier the policy gave it.
    pub tier: TierDecision,
    /// What a kill would break.
    pub disruption: Disruption,
    /// The (provider, native id) its usage is recorded under, when it has one.
    #[serde(skip)]
    pub usage_key: Option<(String, String)>,
}

/// Fills in where recent use came from (sources, agents, actions) for the artifacts whose
/// usage is in `usage`; tiering needs only the counts, so callers load the detail only for the
/// artifacts a kill or rotation will touch.
pub fn add_usage_detail(artifacts: &mut [ResidualArtifact], usage: &UsageIndex) {
    for a in artifacts {
        if let Some(u) = a.usage_key.as_ref().and_then(|k| usage.get(k)) {
            a.disruption.sources = top(&u.sources);
            a.disruption.user_agents = top(&u.user_agents);
            a.disruption.actions = top(&u.actions);
        }
    }
}

/// Rules whose techniques mean something was created or changed: ATT&CK Create Account,
/// Account Manipulation (additional credentials, roles, trust), Domain or Tenant Policy
/// Modification, Modify Authentication Process (IdPs, MFA), Steal Application Access Token
/// (a consent grant).
const CHANGE_TECHNIQUES: &[&str] = &["T1136", "T1098", "T1484", "T1556", "T1528"];
/// Additional Cloud Credentials, SSH Authorized Keys, Device Registration, Steal Application
/// Access Token (an OAuth consent to the attacker's application): the change is a new
/// credential or grant of the target.
const CREDENTIAL_TECHNIQUES: &[&str] = &["T1098.001", "T1098.004", "T1098.005", "T1528"];

fn has_technique(hit: &HitFacts, list: &[&str]) -> bool {
    hit.techniques.iter().any(|t| {
        let t = t.to_ascii_uppercase();
        list.iter()
            .any(|w| t == *w || (t.starts_with(w) && t.as_bytes().get(w.len()) == Some(&b'.')))
    })
}

impl std::fmt::Debug for ResidualInputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResidualInputs")
            .field("window", &self.window)
            .field("scope", &self.scope)
            .field("identities", &self.identities.len())
            .field("credentials", &self.credentials.len())
            .field("locations", &self.locations.len())
            .field("hits", &self.hits.len())
            .finish()
    }
}

/// Identities by the names logs use for them: actors and targets are user names, logins,
/// e-mail addresses or ARNs.
struct NameIndex<'a> {
    by_name: HashMap<(&'a str, String), &'a Identity>,
}

impl<'a> NameIndex<'a> {
    fn new(identities: &'a [Identity]) -> Self {
        let mut by_name = HashMap::new();
        for i in identities {
            let p = i.provider.as_str();
            by_name.insert((p, i.name.to_ascii_lowercase()), i);
            by_name.insert((p, i.external_id.to_ascii_lowercase()), i);
            if let Some((_, tail)) = i.external_id.rsplit_once('/') {
                by_name.insert((p, tail.to_ascii_lowercase()), i);
            }
        }
        NameIndex { by_name }
    }

    fn get(&self, provider: &str, name: &str) -> Option<&'a Identity> {
        self.by_name
            .get(&(provider, name.to_ascii_lowercase()))
            .or_else(|| self.by_name.get(&(provider, principal_key(name))))
            .copied()
    }
}

/// Which credentials the residual computation can touch, so a large inventory is not read
/// whole: those of providers and systems in scope, of identities in scope or named in the
/// hunt hits, those with a stored secret location, and those the hits name by native id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialSelection {
    /// Every credential of these providers.
    pub providers: BTreeSet<String>,
    /// Every credential of these identities (Evict ids).
    pub identity_ids: BTreeSet<String>,
    /// These credentials (Evict ids).
    pub ids: BTreeSet<String>,
    /// These (provider, native id) pairs.
    pub natives: BTreeSet<(String, String)>,
}

/// The providers (and identity systems) every credential of which an incident reads: those its
/// `provider:` and `system:` references name. Known from the scope alone, so their credentials
/// can be read while the rest of the store is.
pub fn providers_in_scope(scope: &[ScopeRef]) -> BTreeSet<String> {
    scope
        .iter()
        .filter(|s| matches!(s.kind, ScopeKind::Provider | ScopeKind::System))
        .map(|s| s.value.clone())
        .collect()
}

/// The [`CredentialSelection`] for an incident.
pub fn credentials_needed(
    scope: &[ScopeRef],
    identities: &[Identity],
    locations: &[LocationFacts],
    hits: &[HitFacts],
) -> CredentialSelection {
    let names = NameIndex::new(identities);
    let mut selection = CredentialSelection {
        providers: providers_in_scope(scope),
        ..CredentialSelection::default()
    };
    for s in scope {
        if s.kind == ScopeKind::Identity {
            selection.identity_ids.insert(s.value.clone());
        }
    }
    selection
        .ids
        .extend(locations.iter().map(|l| l.credential_id.clone()));
    for hit in hits {
        for name in [&hit.actor, &hit.target].into_iter().flatten() {
            if let Some(i) = names.get(&hit.provider, name) {
                selection.identity_ids.insert(i.id.to_string());
            }
        }
        // Only the credentials a hit can put in the residual set are read: those of the
        // built-in rules that name one (an indicator, a new source, a pre-patch session) and
        // those a foothold created.
        let named = [
            hit.credential
                .as_ref()
                .filter(|_| credential_reason(&hit.rule).is_some()),
            hit.created
                .as_ref()
                .filter(|_| has_technique(hit, CREDENTIAL_TECHNIQUES)),
        ];
        for native in named.into_iter().flatten() {
            selection
                .natives
                .insert((hit.provider.clone(), native.clone()));
        }
    }
    selection
}

/// Logs name principals as ARNs in one place and bare names in another
/// (`arn:aws:iam::1:user/ci-deploy` acts, `ci-deploy` is the target): compare by the name.
fn principal_key(name: &str) -> String {
    let name = name.trim();
    let short = if name.starts_with("arn:") {
        name.rsplit_once('/').map_or(name, |(_, tail)| tail)
    } else {
        name
    };
    short.to_ascii_lowercase()
}

/// The reason a built-in hunt rule gives the credential (or actor) its hit names: use from
/// an indicator, from a new source after the patch, or of a session issued before it.
fn credential_reason(rule: &str) -> Option<ResidualReason> {
    match rule {
        "ioc-ip" | "ioc-user-agent" => Some(ResidualReason::UsedFromIndicator),
        "credential-new-source-after-patch" => Some(ResidualReason::UsedAfterPatchFromNewSource),
        "session-issued-before-patch-used-after" => Some(ResidualReason::IssuedBeforePatch),
        _ => None,
    }
}

/// CloudTrail names a caller from another account (`userIdentity.type` `AWSAccount`) only by
/// its unique id (`AIDA…` for a user, `AROA…:session` for a role), never by this account's
/// ARN or user name, which it always gives for the account's own principals.
fn other_aws_account(provider: &str, actor: &str) -> bool {
    let id = actor.split(':').next().unwrap_or(actor);
    provider == "aws"
        && (id.starts_with("AIDA") || id.starts_with("AROA"))
        && id.len() >= 16
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The kind of a credential the logs name only by its id: AWS `ASIA…` keys are role
/// sessions, Okta actors act through sessions (API tokens are `00T…`), GitHub through tokens.
fn actor_credential_kind(provider: &str, native: &str) -> CredentialKind {
    match provider {
        "aws" if native.starts_with("ASIA") => CredentialKind::Session,
        "okta" if !native.starts_with("00T") => CredentialKind::Session,
        "github" => CredentialKind::ApiToken,
        _ => CredentialKind::AccessKey,
    }
}

/// The kind of credential an action creates (`CreateLoginProfile` a password,
/// `public_key.create` an SSH key, …), by the words providers use in action names.
fn created_credential_kind(action: &str) -> CredentialKind {
    let a = action.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| a.contains(w));
    if has(&["loginprofile", "password"]) {
        CredentialKind::Password
    } else if has(&["sshpublickey", "public_key", "deploy_key"]) {
        CredentialKind::SshKey
    } else if has(&["certificate"]) {
        CredentialKind::Certificate
    } else if has(&["token"]) {
        CredentialKind::ApiToken
    } else if has(&["oauth", "grant"]) {
        CredentialKind::OauthGrant
    } else if has(&["factor", "device", "mfa"]) {
        CredentialKind::Device
    } else if has(&["secret"]) {
        CredentialKind::ClientSecret
    } else {
        CredentialKind::AccessKey
    }
}

fn hit_evidence(hit: &HitFacts) -> String {
    format!("hunt {} at {}: {}", hit.rule, hit.pointer, hit.summary)
}

fn is_session_like(kind: CredentialKind) -> bool {
    matches!(
        kind,
        CredentialKind::Session
            | CredentialKind::RefreshToken
            | CredentialKind::AccessToken
            | CredentialKind::OauthGrant
    )
}

fn live(c: &Credential, now: Timestamp) -> bool {
    matches!(
        c.status,
        CredentialStatus::Active | CredentialStatus::Inactive
    ) && c.expires_at.is_none_or(|e| e > now)
}

#[derive(Default)]
struct Collected {
    reasons: BTreeMap<ArtifactRef, BTreeMap<ResidualReason, BTreeSet<String>>>,
    unresolved_kind: HashMap<ArtifactRef, Subject>,
}

impl Collected {
    fn add(&mut self, artifact: ArtifactRef, reason: ResidualReason, evidence: String) {
        self.reasons
            .entry(artifact)
            .or_default()
            .entry(reason)
            .or_default()
            .insert(evidence);
    }
}

/// The residual access set found, before usage is looked up and the policy tiers it.
#[derive(Debug)]
pub struct Found<'a> {
    inputs: &'a ResidualInputs<'a>,
    out: Collected,
}

impl std::fmt::Debug for Collected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collected")
            .field("artifacts", &self.reasons.len())
            .finish()
    }
}

/// Computes the residual access set and tiers it with `policy`, with `usage` holding (at
/// least) the usage of its artifacts. Artifacts come out ordered by tier (kill first), then
/// provider and label.
pub fn residual_access(
    inputs: &ResidualInputs<'_>,
    usage: &UsageIndex,
    policy: &Policy,
) -> Vec<ResidualArtifact> {
    find_residual(inputs).tier(usage, policy)
}

impl Found<'_> {
    /// How many artifacts were found.
    pub fn len(&self) -> usize {
        self.out.reasons.len()
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.out.reasons.is_empty()
    }

    /// The (provider, native id) pairs whose usage tiering needs: only these need loading,
    /// however many usage rows the store holds.
    pub fn usage_keys(&self) -> BTreeSet<(String, String)> {
        let credentials: HashMap<&str, &Credential> = self
            .inputs
            .credentials
            .iter()
            .map(|c| (c.id.as_str(), c))
            .collect();
        self.out
            .reasons
            .keys()
            .filter_map(|artifact| match artifact {
                ArtifactRef::Credential { id } => credentials.get(id.as_str()).and_then(|c| {
                    c.native_id
                        .as_ref()
                        .map(|n| (c.provider.to_string(), n.clone()))
                }),
                ArtifactRef::Unresolved {
                    provider,
                    what,
                    reference,
                } if what != "change" => Some((provider.clone(), reference.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Finds every artifact and its reasons (no usage, no tiers yet).
pub fn find_residual<'a>(inputs: &'a ResidualInputs<'a>) -> Found<'a> {
    let identities: HashMap<&str, &Identity> = inputs
        .identities
        .iter()
        .map(|i| (i.id.as_str(), i))
        .collect();
    let mut by_identity: HashMap<&str, Vec<&Credential>> = HashMap::new();
    let mut by_native: HashMap<(&str, &str), &Credential> = HashMap::new();
    for c in inputs.credentials {
        if let Some(id) = &c.identity {
            by_identity.entry(id.as_str()).or_default().push(c);
        }
        if let Some(native) = &c.native_id {
            by_native.insert((c.provider.as_str(), native.as_str()), c);
        }
    }
    let names = NameIndex::new(inputs.identities);
    let identity_named = |provider: &str, name: &str| names.get(provider, name);

    let mut out = Collected::default();
    let in_scope = |kind: ScopeKind| inputs.scope.iter().filter(move |s| s.kind == kind);

    // Identities in scope: each of their live credentials.
    let mut scoped_identities: BTreeMap<&str, String> = BTreeMap::new();
    for s in in_scope(ScopeKind::Identity) {
        if identities.contains_key(s.value.as_str()) {
            scoped_identities.insert(s.value.as_str(), format!("scope {s}"));
        }
    }
    for s in in_scope(ScopeKind::Provider) {
        for i in inputs
            .identities
            .iter()
            .filter(|i| i.provider.as_str() == s.value)
        {
            scoped_identities
                .entry(i.id.as_str())
                .or_insert_with(|| format!("scope {s}"));
        }
    }
    for (id, why) in &scoped_identities {
        for c in by_identity.get(id).into_iter().flatten() {
            if live(c, inputs.now) {
                out.add(
                    ArtifactRef::Credential {
                        id: c.id.to_string(),
                    },
                    ResidualReason::IdentityInScope,
                    why.clone(),
                );
            }
        }
    }
    // An identity named in scope whose credentials the inventory cannot see (a SCIM user, an
    // account known only by name) is itself the artifact: disabling it is the only handle.
    for s in in_scope(ScopeKind::Identity) {
        let Some(identity) = identities.get(s.value.as_str()) else {
            continue;
        };
        let sees_a_credential = by_identity
            .get(s.value.as_str())
            .is_some_and(|cs| cs.iter().any(|c| live(c, inputs.now)));
        if identity.status == IdentityStatus::Active && !sees_a_credential {
            out.add(
                ArtifactRef::Identity {
                    id: identity.id.to_string(),
                },
                ResidualReason::IdentityInScope,
                format!("scope {s} (no credential of it is known)"),
            );
        }
    }

    // Sessions, refresh tokens and grants of in-scope identities and systems issued before the
    // patch and still valid: they outlive the fix.
    let systems: HashSet<&str> = in_scope(ScopeKind::System)
        .map(|s| s.value.as_str())
        .collect();
    for c in inputs.credentials {
        let scoped = c
            .identity
            .as_ref()
            .is_some_and(|i| scoped_identities.contains_key(i.as_str()))
            || systems.contains(c.provider.as_str());
        if scoped
            && is_session_like(c.kind)
            && live(c, inputs.now)
            && c.issued_at.is_none_or(|t| t < inputs.window.patched_at)
        {
            let when = c.issued_at.map_or_else(
                || "issue time unknown".to_string(),
                |t| format!("issued {t}"),
            );
            out.add(
                ArtifactRef::Credential {
                    id: c.id.to_string(),
                },
                ResidualReason::IssuedBeforePatch,
                format!(
                    "inventory {}: {when}, patched {}",
                    c.id, inputs.window.patched_at
                ),
            );
        }
        if systems.contains(c.provider.as_str())
            && c.kind == CredentialKind::SigningKey
            && live(c, inputs.now)
        {
            out.add(
                ArtifactRef::Credential {
                    id: c.id.to_string(),
                },
                ResidualReason::SigningKeyInScope,
                format!("scope system:{}", c.provider),
            );
        }
    }

    // Secrets seen in scope, and every other copy of them.
    let place_scopes: Vec<&ScopeRef> = inputs
        .scope
        .iter()
        .filter(|s| matches!(s.kind, ScopeKind::Repo | ScopeKind::Host))
        .collect();
    let mut exposed: BTreeSet<&str> = BTreeSet::new();
    for l in inputs.locations {
        if let Some(s) = place_scopes
            .iter()
            .find(|s| location_in_scope(s, &l.location, inputs.normalise))
        {
            exposed.insert(l.credential_id.as_str());
            out.add(
                ArtifactRef::Credential {
                    id: l.credential_id.clone(),
                },
                ResidualReason::ExposedInScope,
                format!("location {} (scope {s})", l.location.display()),
            );
        }
    }
    for l in inputs.locations {
        if exposed.contains(l.credential_id.as_str())
            && !place_scopes
                .iter()
                .any(|s| location_in_scope(s, &l.location, inputs.normalise))
        {
            out.add(
                ArtifactRef::Credential {
                    id: l.credential_id.clone(),
                },
                ResidualReason::CopyOfExposed,
                format!("location {} (outside the scope)", l.location.display()),
            );
        }
    }

    // The logs: indicator use, new sources after the patch, pre-patch sessions still used.
    let credential_ref =
        |provider: &str, native: &str, what: &str| match by_native.get(&(provider, native)) {
            Some(c) => ArtifactRef::Credential {
                id: c.id.to_string(),
            },
            None => ArtifactRef::Unresolved {
                provider: provider.to_string(),
                what: what.to_string(),
                reference: native.to_string(),
            },
        };
    let mut compromised_actors: HashSet<(String, String)> = HashSet::new();
    for (provider, name) in scoped_identities
        .keys()
        .filter_map(|id| identities.get(id))
        .flat_map(|i| {
            [
                (i.provider.as_str(), i.name.as_str()),
                (i.provider.as_str(), i.external_id.as_str()),
            ]
        })
    {
        compromised_actors.insert((provider.to_string(), principal_key(name)));
    }
    for hit in inputs.hits {
        let Some(reason) = credential_reason(&hit.rule) else {
            continue;
        };
        if reason != ResidualReason::IssuedBeforePatch
            && let Some(actor) = &hit.actor
        {
            compromised_actors.insert((hit.provider.clone(), principal_key(actor)));
        }
        let what = match (&hit.credential, reason) {
            (_, ResidualReason::IssuedBeforePatch) => "session",
            (Some(native), _)
                if actor_credential_kind(&hit.provider, native) == CredentialKind::Session =>
            {
                "session"
            }
            _ => "credential",
        };
        let artifact = match (&hit.credential, &hit.actor) {
            (Some(native), _) => credential_ref(&hit.provider, native, what),
            (None, Some(actor)) => match identity_named(&hit.provider, actor) {
                Some(i) => ArtifactRef::Identity {
                    id: i.id.to_string(),
                },
                // A principal of another AWS account: not this organisation's to disable.
                // What let it in (a trust change, the sessions it was issued) is listed.
                None if other_aws_account(&hit.provider, actor) => continue,
                None => ArtifactRef::Unresolved {
                    provider: hit.provider.clone(),
                    what: "identity".into(),
                    reference: principal_key(actor),
                },
            },
            (None, None) => continue,
        };
        if let ArtifactRef::Unresolved {
            what, reference, ..
        } = &artifact
        {
            let kind = match what.as_str() {
                "session" => Subject::Credential(CredentialKind::Session),
                "identity" => Subject::Identity,
                _ => Subject::Credential(actor_credential_kind(&hit.provider, reference)),
            };
            out.unresolved_kind.insert(artifact.clone(), kind);
        }
        out.add(artifact, reason, hit_evidence(hit));
    }

    // Footholds: what was created or changed during the window. Attributed to a compromised
    // actor it is the attacker's; otherwise it is examined, not killed — an administrator's
    // ordinary work during the window must not be torn down. What a foothold does in turn is
    // followed until nothing new appears.
    let mut changes: Vec<&HitFacts> = inputs
        .hits
        .iter()
        .filter(|h| h.at >= inputs.window.compromised_at && has_technique(h, CHANGE_TECHNIQUES))
        .collect();
    changes.sort_by_key(|h| h.at);
    let mut attributed: HashSet<usize> = HashSet::new();
    loop {
        let before = attributed.len();
        for (n, hit) in changes.iter().enumerate() {
            let by_compromised = hit.actor.as_ref().is_some_and(|a| {
                compromised_actors.contains(&(hit.provider.clone(), principal_key(a)))
            });
            if by_compromised
                && attributed.insert(n)
                && let Some(target) = &hit.target
            {
                compromised_actors.insert((hit.provider.clone(), principal_key(target)));
            }
        }
        if attributed.len() == before {
            break;
        }
    }
    // Two rules often fire on one event (a credential rule and a broader account-manipulation
    // one): the new credential is the artifact, not also a "change" on its holder.
    let new_credentials: HashSet<(&str, &str, &str)> = changes
        .iter()
        .filter(|h| has_technique(h, CREDENTIAL_TECHNIQUES))
        .filter_map(|h| Some((h.provider.as_str(), h.action.as_str(), h.target.as_deref()?)))
        .collect();
    for (n, hit) in changes.iter().enumerate() {
        if !has_technique(hit, CREDENTIAL_TECHNIQUES)
            && hit.target.as_deref().is_some_and(|t| {
                new_credentials.contains(&(hit.provider.as_str(), hit.action.as_str(), t))
            })
        {
            continue;
        }
        let during = hit.at <= inputs.window.patched_at;
        let reason = match (attributed.contains(&n), during) {
            (true, true) => ResidualReason::CreatedDuringWindow,
            (true, false) => ResidualReason::CreatedByFoothold,
            (false, true) => ResidualReason::ChangedDuringWindow,
            (false, false) => continue,
        };
        // A record that names what it created (the new key's id) says exactly which
        // credential that is: the one later use and revocation go by.
        if let (true, Some(created)) = (has_technique(hit, CREDENTIAL_TECHNIQUES), &hit.created) {
            let artifact = credential_ref(&hit.provider, created, "credential");
            if let ArtifactRef::Unresolved { .. } = &artifact {
                out.unresolved_kind.insert(
                    artifact.clone(),
                    Subject::Credential(created_credential_kind(&hit.action)),
                );
            }
            out.add(artifact, reason, hit_evidence(hit));
            continue;
        }
        let Some(target) = &hit.target else {
            let artifact = ArtifactRef::Unresolved {
                provider: hit.provider.clone(),
                what: "change".into(),
                reference: hit.action.clone(),
            };
            out.unresolved_kind
                .insert(artifact.clone(), Subject::Identity);
            out.add(artifact, reason, hit_evidence(hit));
            continue;
        };
        let identity = identity_named(&hit.provider, target);
        if has_technique(hit, CREDENTIAL_TECHNIQUES) {
            // The new credential: the target's credentials issued from the event on; if the
            // inventory has none yet, the change itself until discovery resolves it.
            let issued: Vec<&&Credential> = identity
                .and_then(|i| by_identity.get(i.id.as_str()))
                .into_iter()
                .flatten()
                .filter(|c| {
                    c.issued_at.is_some_and(|t| {
                        t >= hit.at - SignedDuration::from_hours(24) && live(c, inputs.now)
                    })
                })
                .collect();
            if !issued.is_empty() {
                for c in issued {
                    out.add(
                        ArtifactRef::Credential {
                            id: c.id.to_string(),
                        },
                        reason,
                        hit_evidence(hit),
                    );
                }
                continue;
            }
            let artifact = ArtifactRef::Unresolved {
                provider: hit.provider.clone(),
                what: "credential".into(),
                reference: format!("{} for {target}", hit.action),
            };
            out.unresolved_kind.insert(
                artifact.clone(),
                Subject::Credential(created_credential_kind(&hit.action)),
            );
            out.add(artifact, reason, hit_evidence(hit));
            continue;
        }
        let created = hit
            .techniques
            .iter()
            .any(|t| t.to_ascii_uppercase().starts_with("T1136"));
        let artifact = match (identity, created) {
            (Some(i), _) => ArtifactRef::Identity {
                id: i.id.to_string(),
            },
            (None, true) => ArtifactRef::Unresolved {
                provider: hit.provider.clone(),
                what: "identity".into(),
                reference: principal_key(target),
            },
            (None, false) => ArtifactRef::Unresolved {
                provider: hit.provider.clone(),
                what: "change".into(),
                reference: format!("{} on {target}", hit.action),
            },
        };
        if let ArtifactRef::Unresolved { .. } = &artifact {
            out.unresolved_kind
                .insert(artifact.clone(), Subject::Identity);
        }
        // An identity the attacker made brings every credential it holds.
        if let (Some(i), true) = (
            identity,
            created && reason == ResidualReason::CreatedDuringWindow,
        ) {
            for c in by_identity.get(i.id.as_str()).into_iter().flatten() {
                if live(c, inputs.now) {
                    out.add(
                        ArtifactRef::Credential {
                            id: c.id.to_string(),
                        },
                        ResidualReason::CreatedByFoothold,
                        format!(
                            "belongs to {} ({}), created during the window",
                            i.name, i.id
                        ),
                    );
                }
            }
        }
        out.add(artifact, reason, hit_evidence(hit));
    }

    Found { inputs, out }
}

impl Found<'_> {
    /// Tiers the found artifacts with `policy`, using `usage` for what a kill would break.
    pub fn tier(self, usage: &UsageIndex, policy: &Policy) -> Vec<ResidualArtifact> {
        let Found { inputs, out } = self;
        let identities: HashMap<&str, &Identity> = inputs
            .identities
            .iter()
            .map(|i| (i.id.as_str(), i))
            .collect();
        let credentials: HashMap<&str, &Credential> = inputs
            .credentials
            .iter()
            .map(|c| (c.id.as_str(), c))
            .collect();
        tier_found(inputs, &out, &identities, &credentials, usage, policy)
    }
}

fn tier_found(
    inputs: &ResidualInputs<'_>,
    out: &Collected,
    identities: &HashMap<&str, &Identity>,
    credentials: &HashMap<&str, &Credential>,
    usage_index: &UsageIndex,
    policy: &Policy,
) -> Vec<ResidualArtifact> {
    let recent_from =
        inputs.now - SignedDuration::from_hours(24 * i64::from(policy.recent_use_days()));
    let mut artifacts: Vec<ResidualArtifact> = out
        .reasons
        .iter()
        .map(|(artifact, reasons)| {
            let owner = match artifact {
                ArtifactRef::Credential { id } => credentials
                    .get(id.as_str())
                    .and_then(|c| c.identity.as_ref())
                    .and_then(|i| identities.get(i.as_str()))
                    .and_then(|i| i.owner.clone()),
                ArtifactRef::Identity { id } => {
                    identities.get(id.as_str()).and_then(|i| i.owner.clone())
                }
                ArtifactRef::Unresolved { .. } => None,
            };
            let (provider, label, kind, identity, privilege, native, last_used) = match artifact {
                ArtifactRef::Credential { id } => match credentials.get(id.as_str()) {
                    Some(c) => {
                        let owner = c.identity.as_ref().and_then(|i| identities.get(i.as_str()));
                        (
                            c.provider.to_string(),
                            c.native_id
                                .clone()
                                .or_else(|| c.preview.clone())
                                .unwrap_or_else(|| c.external_key.clone()),
                            Subject::Credential(c.kind),
                            c.identity.as_ref().map(|i| i.to_string()),
                            owner.map_or(PrivilegeTier::Unknown, |o| o.privilege),
                            c.native_id.clone(),
                            c.last_used_at,
                        )
                    }
                    None => (
                        String::new(),
                        id.clone(),
                        Subject::Credential(CredentialKind::ApiToken),
                        None,
                        PrivilegeTier::Unknown,
                        None,
                        None,
                    ),
                },
                ArtifactRef::Identity { id } => match identities.get(id.as_str()) {
                    Some(i) => (
                        i.provider.to_string(),
                        i.name.clone(),
                        Subject::Identity,
                        Some(i.id.to_string()),
                        i.privilege,
                        None,
                        i.last_used_at,
                    ),
                    None => (
                        String::new(),
                        id.clone(),
                        Subject::Identity,
                        None,
                        PrivilegeTier::Unknown,
                        None,
                        None,
                    ),
                },
                ArtifactRef::Unresolved {
                    provider,
                    what,
                    reference,
                } => (
                    provider.clone(),
                    format!("{what} {reference} (not in the inventory)"),
                    out.unresolved_kind
                        .get(artifact)
                        .copied()
                        .unwrap_or(Subject::Identity),
                    None,
                    PrivilegeTier::Unknown,
                    (what != "change").then(|| reference.clone()),
                    None,
                ),
            };
            let usage_key = native.as_ref().map(|n| (provider.clone(), n.clone()));
            let usage = usage_key.as_ref().and_then(|k| usage_index.get(k));
            let disruption = disruption_of(usage, last_used, recent_from);
            let facts = TierFacts {
                reasons: reasons.keys().copied().collect(),
                subject: kind,
                privilege,
                recent_uses: disruption.recent_uses,
            };
            ResidualArtifact {
                key: artifact.key(),
                artifact: artifact.clone(),
                owner,
                provider,
                label,
                kind,
                identity,
                privilege,
                reasons: reasons
                    .iter()
                    .map(|(reason, evidence)| ReasonWithEvidence {
                        reason: *reason,
                        evidence: evidence.iter().cloned().collect(),
                    })
                    .collect(),
                tier: policy.decide(&facts),
                disruption,
                usage_key,
            }
        })
        .collect();
    artifacts.sort_by(|a, b| {
        (a.tier.tier, &a.provider, &a.label).cmp(&(b.tier.tier, &b.provider, &b.label))
    });
    artifacts
}

fn top(map: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = map.iter().map(|(k, n)| (k.clone(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(5);
    v
}

fn disruption_of(
    usage: Option<&Usage>,
    inventory_last_used: Option<Timestamp>,
    recent_from: Timestamp,
) -> Disruption {
    let last_used_at = usage.and_then(|u| u.last_seen).max(inventory_last_used);
    let recent_uses = match usage {
        Some(u) if u.last_seen.is_some_and(|t| t >= recent_from) => u.events.max(1),
        _ if inventory_last_used.is_some_and(|t| t >= recent_from) => 1,
        _ => 0,
    };
    Disruption {
        recent_uses,
        last_used_at,
        sources: usage.map(|u| top(&u.sources)).unwrap_or_default(),
        user_agents: usage.map(|u| top(&u.user_agents)).unwrap_or_default(),
        actions: usage.map(|u| top(&u.actions)).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_from_other_aws_accounts_are_told_by_their_unique_id() {
        assert!(other_aws_account("aws", "AIDA4D4MKBA3BHEVLVYOW"));
        assert!(other_aws_account("aws", "AROA4D4MKBA3BHEVLVYOW:attacker"));
        assert!(!other_aws_account(
            "aws",
            "arn:aws:iam::123456789012:user/ci-deploy"
        ));
        assert!(!other_aws_account("aws", "ci-deploy"));
        assert!(!other_aws_account("okta", "AIDA4D4MKBA3BHEVLVYOW"));
        assert!(!other_aws_account("aws", "AIDA-short"));
    }

    #[test]
    fn created_credentials_get_the_kind_their_action_names() {
        assert_eq!(
            created_credential_kind("app.oauth2.as.consent.grant"),
            CredentialKind::OauthGrant
        );
        assert_eq!(
            created_credential_kind("oauth_authorization.create"),
            CredentialKind::OauthGrant
        );
        assert_eq!(
            created_credential_kind("public_key.create"),
            CredentialKind::SshKey
        );
        assert_eq!(
            created_credential_kind("system.api_token.create"),
            CredentialKind::ApiToken
        );
        assert_eq!(
            created_credential_kind("CreateLoginProfile"),
            CredentialKind::Password
        );
        assert_eq!(
            created_credential_kind("CreateAccessKey"),
            CredentialKind::AccessKey
        );
    }
}
