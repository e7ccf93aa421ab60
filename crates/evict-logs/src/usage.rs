//! Usage aggregation: per credential and per identity, first and last seen, source addresses,
//! user agents, actions and failures — what a revocation would break, and whether a dead
//! credential is still being tried.

use std::collections::BTreeMap;

use ahash::AHashMap as HashMap;

use evict_model::{Event, Outcome, Usage};
use serde::Serialize;

/// Distinct values a thread keeps per map of one subject; the rest are counted under [`OTHER`],
/// so memory stays bounded by the number of subjects (and threads) however long the logs are.
pub const DISTINCT_CAP: usize = 1_000;

/// The bucket that counts values past [`DISTINCT_CAP`].
pub const OTHER: &str = "(other)";

/// What a usage row describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A credential, by its provider-native id.
    Credential,
    /// An identity, by its provider-native name.
    Identity,
}

impl Subject {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Credential => "credential",
            Subject::Identity => "identity",
        }
    }
}

/// Whether the event's credential is a short-lived session rather than a credential of its own:
/// AWS `ASIA…` keys and Okta sessions. (GitHub App installation tokens also live an hour, but
/// exports often show one hash per app for days; they are kept as credentials.)
pub fn is_session(event: &Event) -> bool {
    matches!(
        event.credential_kind.as_deref(),
        Some("temporary_key" | "session")
    )
}

/// The role an assumed-role session ARN belongs to
/// (`arn:aws:sts::123456789012:assumed-role/Deploy/session-1` → `…:assumed-role/Deploy`);
/// any other actor as it is.
pub fn session_holder(actor: &str) -> &str {
    match actor.find(":assumed-role/") {
        Some(at) => {
            let role_start = at + ":assumed-role/".len();
            match actor[role_start..].find('/') {
                Some(slash) => &actor[..role_start + slash],
                None => actor,
            }
        }
        None => actor,
    }
}

/// Usage per (provider, subject kind, native id). Nested by provider and id so that counting
/// an event for a subject already seen allocates nothing.
#[derive(Debug, Default)]
pub struct UsageBook {
    /// A handful of (provider, subject) pairs, so a linear search beats hashing a key.
    entries: Vec<(String, Subject, HashMap<String, Usage>)>,
}

impl UsageBook {
    fn ids_mut(&mut self, provider: &str, subject: Subject) -> &mut HashMap<String, Usage> {
        let at = match self
            .entries
            .iter()
            .position(|(p, s, _)| *s == subject && p == provider)
        {
            Some(at) => at,
            None => {
                self.entries
                    .push((provider.to_string(), subject, HashMap::default()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[at].2
    }
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str, by: u64) {
    if let Some(count) = map.get_mut(key) {
        *count += by;
    } else if map.len() < DISTINCT_CAP {
        map.insert(key.to_string(), by);
    } else {
        *map.entry(OTHER.to_string()).or_insert(0) += by;
    }
}

impl UsageBook {
    /// Counts one event for its credential and its actor.
    ///
    /// Short-lived session credentials (AWS `ASIA…` keys, Okta sessions) are counted under the
    /// identity that holds them, not one by one, and an assumed-role session under its role:
    /// every session is new, so counting each would make memory grow with the logs, and what a
    /// responder revokes is the role's sessions, not one key.
    pub fn record(&mut self, event: &Event) {
        let provider = event.provider.as_str();
        if let Some(credential) = &event.credential_native_id
            && !is_session(event)
        {
            self.count(provider, Subject::Credential, credential, event);
        }
        if let Some(actor) = &event.actor_name {
            self.count(provider, Subject::Identity, session_holder(actor), event);
        }
    }

    fn count(&mut self, provider: &str, subject: Subject, id: &str, event: &Event) {
        let ids = self.ids_mut(provider, subject);
        let usage = match ids.get_mut(id) {
            Some(usage) => usage,
            None => ids.entry(id.to_string()).or_default(),
        };
        usage.events += 1;
        if event.outcome == Outcome::Failure {
            usage.failures += 1;
        }
        usage.first_seen = Some(usage.first_seen.map_or(event.time, |t| t.min(event.time)));
        usage.last_seen = Some(usage.last_seen.map_or(event.time, |t| t.max(event.time)));
        if let Some(source) = &event.source {
            bump(&mut usage.sources, source, 1);
        }
        if let Some(agent) = &event.user_agent {
            bump(&mut usage.user_agents, agent, 1);
        }
        bump(&mut usage.actions, &event.action, 1);
    }

    /// Folds another book into this one.
    pub fn merge(&mut self, other: UsageBook) {
        for (provider, subject, ids) in other.entries {
            let mine = self.ids_mut(&provider, subject);
            for (id, usage) in ids {
                match mine.get_mut(&id) {
                    Some(existing) => existing.merge(usage),
                    None => {
                        mine.insert(id, usage);
                    }
                }
            }
        }
    }

    /// How many subjects the book holds.
    pub fn len(&self) -> usize {
        self.entries.iter().map(|(_, _, ids)| ids.len()).sum()
    }

    /// Whether the book is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry, sorted by provider, subject kind and id.
    pub fn into_sorted(self) -> Vec<UsageRow> {
        let mut rows: Vec<UsageRow> = self
            .entries
            .into_iter()
            .flat_map(|(provider, subject, ids)| {
                ids.into_iter().map(move |(id, usage)| UsageRow {
                    provider: provider.clone(),
                    subject,
                    id,
                    usage,
                })
            })
            .collect();
        rows.sort_by(|a, b| (&a.provider, a.subject, &a.id).cmp(&(&b.provider, b.subject, &b.id)));
        rows
    }
}

/// One subject's usage.
#[derive(Debug, Clone, Serialize)]
pub struct UsageRow {
    /// The provider (`aws`, `okta`, `github`).
    pub provider: String,
    /// Credential or identity.
    pub subject: Subject,
    /// The provider-native id (access key id, ARN, login).
    pub id: String,
    /// The aggregates.
    #[serde(flatten)]
    pub usage: Usage,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_count_under_their_role() {
        assert_eq!(
            session_holder("arn:aws:sts::123456789012:assumed-role/Deploy/session-1"),
            "arn:aws:sts::123456789012:assumed-role/Deploy"
        );
        assert_eq!(
            session_holder("arn:aws:iam::123456789012:user/alice"),
            "arn:aws:iam::123456789012:user/alice"
        );
        assert_eq!(
            session_holder("arn:aws:sts::1:assumed-role/NoSession"),
            "arn:aws:sts::1:assumed-role/NoSession"
        );
    }
}
