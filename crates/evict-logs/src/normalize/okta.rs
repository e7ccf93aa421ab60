//! Okta System Log records.
//!
//! | Event field | Okta |
//! |---|---|
//! | time, id, raw_action | `published`, `uuid`, `eventType` |
//! | service, action | `okta`, `okta:<eventType>` (lower case) |
//! | actor_name, actor_kind | `actor.alternateId` (else `actor.id`), `actor.type` |
//! | session | `authenticationContext.externalSessionId` (Okta writes `unknown` when there is none), `transaction.id` |
//! | credential | see below |
//! | target | the first target's `alternateId` (else `displayName`, `id`; Okta's `unknown` skipped) |
//! | created | on `*.create`, the `id` of the target of type `Token` (an API token's `00T…`) |
//! | source, user_agent | `client.ipAddress`, `client.userAgent.rawUserAgent` |
//! | outcome, error_code | `outcome.result` (`SUCCESS`/`ALLOW` succeed; `FAILURE`/`DENY` fail; others are unknown), `outcome.reason` on failure |
//!
//! The credential: Okta names the API token an action was made with in
//! `transaction.detail.requestApiTokenId` (kind `api_token`; older exports carry it in
//! `debugContext.debugData.requestApiTokenId`). Without one, the actor acted through an Okta
//! session, and the session is the credential that can be stolen and must be killed: its
//! `externalSessionId` becomes the credential id (kind `session`). The factor in
//! `authenticationContext.credentialType` (`PASSWORD`, `OTP`, …) says how a session was
//! opened, not which credential was used, so it is not a credential id.

use evict_model::{Event, Outcome, RawPointer, SessionContext};

use super::{NormalizeError, TimeFormat, builtin_provider, event, owned, string, time_of};
use crate::ip::normalize_ip;
use crate::read::SourceKind;
use crate::record::{JsonRef, LazyRecord};

pub(super) fn normalize(rec: &LazyRecord<'_>, raw: RawPointer) -> Result<Event, NormalizeError> {
    let time = time_of(rec, &["published"], TimeFormat::Auto)?;
    let raw_action = string(rec, "eventType").ok_or_else(|| NormalizeError::MissingAction {
        field: "eventType".into(),
    })?;
    let action = format!("okta:{}", raw_action.to_ascii_lowercase());
    let mut ev = event(
        time,
        builtin_provider(SourceKind::Okta),
        raw_action,
        action,
        raw,
    );
    ev.id = string(rec, "uuid");
    ev.service = Some("okta".into());

    // Each nested object is read in one pass.
    if let Some([alternate_id, id, kind]) = object(rec, "actor", ["alternateId", "id", "type"]) {
        ev.actor_name = owned(alternate_id).or_else(|| owned(id));
        ev.actor_kind = owned(kind);
    }

    let session_id = string(rec, "authenticationContext.externalSessionId")
        .filter(|id| !id.eq_ignore_ascii_case("unknown"));
    let [transaction_id, detail] = object(rec, "transaction", ["id", "detail"]).unwrap_or_default();
    let transaction_id = owned(transaction_id);
    let api_token = owned(detail.and_then(|d| d.get_many(["requestApiTokenId"])[0]))
        .or_else(|| string(rec, "debugContext.debugData.requestApiTokenId"));
    if let Some(token) = api_token {
        ev.credential_native_id = Some(token);
        ev.credential_kind = Some("api_token".into());
    } else if let Some(session) = &session_id {
        ev.credential_native_id = Some(session.clone());
        ev.credential_kind = Some("session".into());
    }
    if session_id.is_some() || transaction_id.is_some() {
        ev.session = Some(SessionContext {
            issued_at: None,
            mfa: None,
            id: session_id,
            transaction_id,
        });
    }

    let targets = rec
        .get_key("target")
        .map(|targets| targets.array_items())
        .unwrap_or_default();
    // Okta writes `unknown` where a target has no alternate id (an API token).
    ev.target = targets.first().and_then(|first| {
        first
            .get_many(["alternateId", "displayName", "id"])
            .into_iter()
            .find_map(|v| owned(v).filter(|name| name != "unknown"))
    });
    if ev.raw_action.ends_with(".create") {
        ev.created = targets
            .iter()
            .find_map(|t| match t.get_many(["type", "id"]) {
                [kind, id] if owned(kind).as_deref() == Some("Token") => owned(id),
                _ => None,
            });
    }

    if let Some([ip, agent]) = object(rec, "client", ["ipAddress", "userAgent"]) {
        ev.source = owned(ip);
        ev.user_agent = owned(agent.and_then(|a| a.get_many(["rawUserAgent"])[0]));
    }
    ev.source_ip = ev.source.as_deref().and_then(normalize_ip);

    if let Some([result, reason]) = object(rec, "outcome", ["result", "reason"]) {
        let result = owned(result).unwrap_or_default();
        ev.outcome = if result.eq_ignore_ascii_case("SUCCESS")
            || result.eq_ignore_ascii_case("ALLOW")
        {
            Outcome::Success
        } else if result.eq_ignore_ascii_case("FAILURE") || result.eq_ignore_ascii_case("DENY") {
            Outcome::Failure
        } else {
            Outcome::Unknown
        };
        if ev.outcome == Outcome::Failure {
            ev.error_code = owned(reason);
        }
    }
    Ok(ev)
}

/// The values of `fields` of the top-level object `key`.
fn object<'a, const N: usize>(
    rec: &LazyRecord<'a>,
    key: &str,
    fields: [&str; N],
) -> Option<[Option<JsonRef<'a>>; N]> {
    rec.get_key(key).map(|value| value.get_many(fields))
}
