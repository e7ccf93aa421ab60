//! AWS CloudTrail records.
//!
//! | Event field | CloudTrail |
//! |---|---|
//! | time | `eventTime` (or `@timestamp` in re-exported logs) |
//! | id, service, raw_action | `eventID`, `eventSource`, `eventName` |
//! | action | `<eventSource up to its first dot>:<eventName>`, lower case (`iam:createaccesskey`) |
//! | actor_name, actor_kind | `userIdentity.arn` (else `userName`, `principalId`, `invokedBy`), `userIdentity.type` |
//! | credential | `userIdentity.accessKeyId`: `AKIA…` is an `access_key`, `ASIA…` a `temporary_key` |
//! | session | `sessionContext.attributes.creationDate` and `mfaAuthenticated`; for `ConsoleLogin`, `additionalEventData.MFAUsed` |
//! | target | the first of `requestParameters` `userName`, `roleName`, `groupName`, `policyArn`, … |
//! | created | `responseElements.accessKey.accessKeyId` (the key CreateAccessKey made) |
//! | source, user_agent | `sourceIPAddress` (kept as written; `source_ip` when it is an IP), `userAgent` |
//! | outcome, error_code | failure when `errorCode` is present or `ConsoleLogin` says `Failure` |
//! | account, region | `recipientAccountId` (else `userIdentity.accountId`), `awsRegion` |

use evict_model::{Event, Outcome, RawPointer, SessionContext};

use super::{
    NormalizeError, TimeFormat, builtin_provider, event, owned, parse_time, string, time_of,
};
use crate::ip::normalize_ip;
use crate::read::SourceKind;
use crate::record::LazyRecord;

/// `requestParameters` fields naming what an action was done to, most useful first.
const TARGET_FIELDS: [&str; 13] = [
    "userName",
    "roleName",
    "groupName",
    "policyArn",
    "roleArn",
    "bucketName",
    "functionName",
    "secretId",
    "keyId",
    "trailName",
    "instanceProfileName",
    "serialNumber",
    "name",
];

pub(super) fn normalize(rec: &LazyRecord<'_>, raw: RawPointer) -> Result<Event, NormalizeError> {
    let time = time_of(rec, &["eventTime", "@timestamp"], TimeFormat::Auto)?;
    let raw_action = string(rec, "eventName").ok_or_else(|| NormalizeError::MissingAction {
        field: "eventName".into(),
    })?;
    let service = string(rec, "eventSource");
    let prefix = service
        .as_deref()
        .and_then(|s| s.split('.').next())
        .filter(|p| !p.is_empty())
        .unwrap_or("aws");
    let mut action = String::with_capacity(prefix.len() + 1 + raw_action.len());
    action.push_str(prefix);
    action.push(':');
    action.push_str(&raw_action);
    action.make_ascii_lowercase();
    let console_login = raw_action == "ConsoleLogin";

    let mut ev = event(
        time,
        builtin_provider(SourceKind::CloudTrail),
        raw_action,
        action,
        raw,
    );
    ev.id = string(rec, "eventID");
    ev.service = service;

    // Nested objects are read with one pass each.
    let [
        arn,
        user_name,
        principal,
        invoked_by,
        kind,
        key_id,
        account_id,
        session_context,
    ] = rec
        .get_key("userIdentity")
        .map(|identity| {
            identity.get_many([
                "arn",
                "userName",
                "principalId",
                "invokedBy",
                "type",
                "accessKeyId",
                "accountId",
                "sessionContext",
            ])
        })
        .unwrap_or_default();
    ev.actor_name = [arn, user_name, principal, invoked_by]
        .into_iter()
        .find_map(owned);
    ev.actor_kind = owned(kind);
    ev.credential_native_id = owned(key_id);
    ev.credential_kind = ev.credential_native_id.as_deref().and_then(|id| {
        if id.starts_with("AKIA") {
            Some("access_key".to_string())
        } else if id.starts_with("ASIA") {
            Some("temporary_key".to_string())
        } else {
            None
        }
    });
    let [creation_date, mfa_authenticated] = session_context
        .and_then(|c| c.get_many(["attributes"])[0])
        .map(|a| a.get_many(["creationDate", "mfaAuthenticated"]))
        .unwrap_or_default();
    let issued_at = creation_date.and_then(|v| parse_time(v, TimeFormat::Auto));
    let mfa_authenticated = mfa_authenticated.and_then(|v| yes_no(v.to_text()?.as_ref()));
    let mfa_used = if console_login {
        rec.get("additionalEventData.MFAUsed")
            .and_then(|v| yes_no(v.to_text()?.as_ref()))
    } else {
        None
    };
    let mfa = mfa_used.or(mfa_authenticated);
    if issued_at.is_some() || mfa.is_some() {
        ev.session = Some(SessionContext {
            issued_at,
            mfa,
            id: None,
            transaction_id: None,
        });
    }

    if let Some(params) = rec.get_key("requestParameters") {
        ev.target = params.get_many(TARGET_FIELDS).into_iter().find_map(owned);
    }
    ev.created = string(rec, "responseElements.accessKey.accessKeyId");
    ev.source = string(rec, "sourceIPAddress");
    ev.source_ip = ev.source.as_deref().and_then(normalize_ip);
    ev.user_agent = string(rec, "userAgent");
    ev.error_code = string(rec, "errorCode");
    let login_failed = console_login
        && rec
            .get("responseElements.ConsoleLogin")
            .and_then(|v| v.as_str())
            .as_deref()
            == Some("Failure");
    ev.outcome = if ev.error_code.is_some() || login_failed {
        Outcome::Failure
    } else {
        Outcome::Success
    };
    ev.account = string(rec, "recipientAccountId").or_else(|| owned(account_id));
    ev.region = string(rec, "awsRegion");
    Ok(ev)
}

/// `true`/`false` and `Yes`/`No`, any case.
fn yes_no(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") || text.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}
