//! GitHub audit-log records (organisation and enterprise audit log, REST API and streaming).
//!
//! | Event field | GitHub |
//! |---|---|
//! | time | `@timestamp` (epoch milliseconds, a number or text), else `created_at` |
//! | id, raw_action | `_document_id`, `action` |
//! | service, action | the action's category (`repo` of `repo.create`), `github:<action>` (lower case) |
//! | actor_name, actor_kind | `actor`; `Bot` when `actor_is_bot`, else `User` |
//! | credential | `hashed_token` (else `token_id`), its kind from `programmatic_access_type` |
//! | target | `user`, else `repo`, else `org` |
//! | created | `personal_access_token_id` (`personal_access_token.*`), `fingerprint` (`public_key.create`, `deploy_key.create`), `oauth_application_id` (`oauth_authorization.*`) |
//! | source, user_agent | `actor_ip`, `user_agent` |
//! | account | `org` (else `business`) |
//! | outcome | success: the audit log records actions that took place |

use evict_model::{Event, Outcome, RawPointer};

use super::{
    NormalizeError, TimeFormat, builtin_provider, event, first_string, string, text, time_of,
};
use crate::ip::normalize_ip;
use crate::read::SourceKind;
use crate::record::LazyRecord;

pub(super) fn normalize(rec: &LazyRecord<'_>, raw: RawPointer) -> Result<Event, NormalizeError> {
    let time = time_of(rec, &["@timestamp", "created_at"], TimeFormat::Auto)?;
    let raw_action = string(rec, "action").ok_or_else(|| NormalizeError::MissingAction {
        field: "action".into(),
    })?;
    let action = format!("github:{}", raw_action.to_ascii_lowercase());
    let service = raw_action
        .split('.')
        .next()
        .filter(|s| !s.is_empty() && s.len() < raw_action.len())
        .map(str::to_string);
    let mut ev = event(
        time,
        builtin_provider(SourceKind::GitHub),
        raw_action,
        action,
        raw,
    );
    ev.id = text(rec, "_document_id");
    ev.service = service;
    ev.actor_name = string(rec, "actor");
    if ev.actor_name.is_some() {
        let bot = rec.get("actor_is_bot").and_then(|v| v.as_bool()) == Some(true);
        ev.actor_kind = Some(if bot { "Bot" } else { "User" }.into());
    }
    ev.credential_native_id = string(rec, "hashed_token").or_else(|| text(rec, "token_id"));
    if ev.credential_native_id.is_some() {
        let access = string(rec, "programmatic_access_type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let kind = if access.contains("personal access token") {
            "personal_access_token"
        } else if access.contains("oauth") {
            "oauth_token"
        } else if access.contains("github app") {
            "github_app_token"
        } else {
            "hashed_token"
        };
        ev.credential_kind = Some(kind.into());
    }
    ev.target = first_string(rec, &["user", "repo", "org"]);
    ev.created = created_by(rec, &ev.raw_action);
    ev.source = string(rec, "actor_ip");
    ev.source_ip = ev.source.as_deref().and_then(normalize_ip);
    ev.user_agent = string(rec, "user_agent");
    ev.account = first_string(rec, &["org", "business"]);
    ev.outcome = Outcome::Success;
    Ok(ev)
}

/// The id of what the action made, in the field GitHub names it by for that action.
fn created_by(rec: &LazyRecord<'_>, action: &str) -> Option<String> {
    let field = if action.starts_with("personal_access_token.") {
        "personal_access_token_id"
    } else if matches!(action, "public_key.create" | "deploy_key.create") {
        "fingerprint"
    } else if action.starts_with("oauth_authorization.") {
        "oauth_application_id"
    } else {
        return None;
    };
    text(rec, field)
}
