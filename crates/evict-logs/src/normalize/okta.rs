//! Okta System Log records.
//!
//! | Event field | Okta |
//! |---|---|
//! | time, id, raw_action | `published`, `uuid`, `eventType` |
//! | service, action | `okta`, `okta:<eventType>` (lower case) |
//! | actor_name, actor_kind | `actor.alternateId` (else `actor.id`), `actor.type` |
//! | session | `authenticationContext.externalSessionId` (Okta writes `unknown` when there is none), `transaction.id` |
//! | credential | see below |
//! | target | the first target's `alternateId` (else `displayName`, `id`) |
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

use super::{NormalizeError, TimeFormat, builtin_provider, event, first_string, string, time_of};
use crate::ip::normalize_ip;
use crate::read::SourceKind;
use crate::record::LazyRecord;

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

    if let Some(actor) = rec.object("actor") {
        ev.actor_name = first_string(&actor, &["alternateId", "id"]);
        ev.actor_kind = string(&actor, "type");
    }

    let session_id = string(rec, "authenticationContext.externalSessionId")
        .filter(|id| !id.eq_ignore_ascii_case("unknown"));
    let transaction = rec.object("transaction");
    let transaction_id = transaction.as_ref().and_then(|t| string(t, "id"));
    let api_token = transaction
        .as_ref()
        .and_then(|t| string(t, "detail.requestApiTokenId"))
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

    ev.target = rec
        .get("target")
        .and_then(|targets| targets.array_items().into_iter().next())
        .and_then(|first| first.as_object())
        .and_then(|first| first_string(&first, &["alternateId", "displayName", "id"]));

    if let Some(client) = rec.object("client") {
        ev.source = string(&client, "ipAddress");
        ev.user_agent = string(&client, "userAgent.rawUserAgent");
    }
    ev.source_ip = ev.source.as_deref().and_then(normalize_ip);

    if let Some(outcome) = rec.object("outcome") {
        ev.outcome = match string(&outcome, "result")
            .unwrap_or_default()
            .to_ascii_uppercase()
            .as_str()
        {
            "SUCCESS" | "ALLOW" => Outcome::Success,
            "FAILURE" | "DENY" => Outcome::Failure,
            _ => Outcome::Unknown,
        };
        if ev.outcome == Outcome::Failure {
            ev.error_code = string(&outcome, "reason");
        }
    }
    Ok(ev)
}
