//! The `AWSRevokeOlderSessions` inline policy: what AWS's console writes to revoke a role's
//! sessions, and the reading back of its cut-off.

use jiff::Timestamp;
use serde_json::{Value, json};

/// The name of the inline role policy that denies sessions issued before a cut-off (the
/// name AWS's console gives it, so a responder recognises it).
pub const REVOKE_OLDER_SESSIONS: &str = "AWSRevokeOlderSessions";

/// Now, rounded up to the whole second: a session issued in the same second as the act, just
/// before it, is not spared by rounding.
pub fn cut_off_now() -> Timestamp {
    let now = Timestamp::now();
    let second = now.as_second() + i64::from(now.subsec_nanosecond() > 0);
    Timestamp::from_second(second).unwrap_or(now)
}

/// The policy document denying every action on every resource to a session whose token was
/// issued before `cut_off`.
pub fn revoke_older_sessions(cut_off: Timestamp) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {
                "DateLessThan": { "aws:TokenIssueTime": cut_off.to_string() }
            }
        }]
    })
    .to_string()
}

/// The latest cut-off before which `document` denies everything, or why it denies nothing.
/// IAM returns documents URL-encoded; both forms are read. Only a statement that denies `*`
/// on `*` under that one date condition counts: a narrower deny leaves sessions working.
pub fn denied_before(document: &str) -> Result<Timestamp, String> {
    let decoded = percent_decode(document);
    let policy: Value = serde_json::from_str(&decoded)
        .map_err(|e| format!("the policy document is not JSON ({e})"))?;
    let statements = match policy.get("Statement") {
        Some(Value::Array(all)) => all.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => return Err("the policy has no statement".into()),
    };
    statements
        .iter()
        .filter_map(full_deny_cut_off)
        .max()
        .ok_or_else(|| {
            "no statement denies \"*\" on \"*\" when aws:TokenIssueTime is before a date".into()
        })
}

fn full_deny_cut_off(statement: &Value) -> Option<Timestamp> {
    let is_star = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s == "*",
        Some(Value::Array(all)) => all.iter().any(|s| s == "*"),
        _ => false,
    };
    if statement.get("Effect")? != "Deny"
        || !is_star(statement.get("Action"))
        || !is_star(statement.get("Resource"))
    {
        return None;
    }
    let condition = statement.get("Condition")?.as_object()?;
    if condition.len() != 1 {
        return None;
    }
    let keys = condition.get("DateLessThan")?.as_object()?;
    if keys.len() != 1 {
        return None;
    }
    let (key, value) = keys.iter().next()?;
    if !key.eq_ignore_ascii_case("aws:TokenIssueTime") {
        return None;
    }
    let date = match value {
        Value::String(s) => s.as_str(),
        Value::Array(all) if all.len() == 1 => all[0].as_str()?,
        _ => return None,
    };
    date.parse().ok()
}

/// Decodes `%XX` escapes (and `+` as a space, as IAM's form encoding writes it). Text that
/// is not encoded comes back unchanged.
fn percent_decode(text: &str) -> String {
    if !text.trim_start().starts_with('%') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
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
    fn the_written_policy_reads_back_with_its_cut_off() {
        let cut_off: Timestamp = "2026-03-01T12:00:01Z".parse().unwrap();
        let document = revoke_older_sessions(cut_off);
        assert_eq!(denied_before(&document), Ok(cut_off));
        // As IAM returns it: URL-encoded.
        let encoded: String = document
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        assert_eq!(denied_before(&encoded), Ok(cut_off));
    }

    #[test]
    fn a_narrower_deny_is_not_a_revocation() {
        let narrower = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*",
            "Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"}}}]}"#;
        assert!(denied_before(narrower).is_err());
        let with_ip = r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{
            "DateLessThan":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"},
            "IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}}"#;
        assert!(denied_before(with_ip).is_err());
        let allow = r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
            "DateLessThan":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"}}}}"#;
        assert!(denied_before(allow).is_err());
        assert!(denied_before("not json").is_err());
    }

    #[test]
    fn the_cut_off_is_rounded_up_to_the_second() {
        let before = Timestamp::now();
        let cut_off = cut_off_now();
        assert!(cut_off >= before);
        assert_eq!(cut_off.subsec_nanosecond(), 0);
    }
}
