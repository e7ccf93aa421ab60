//! Evict's generic inventory: identities and credentials from any system (Slack, Kubernetes,
//! Vault, SaaS) as CSV with a header, or JSON lines with the same field names.
//! The format is documented in docs/inventory-format.md.

use std::borrow::Cow;

use evict_model::{
    Credential, CredentialKind, CredentialStatus, Identity, IdentityId, IdentityKind,
    IdentityStatus, PrivilegeTier, Provider,
};

use super::values::{parse_bool, parse_time, parse_word};

/// Every field the format knows, in the documented order.
pub const FIELDS: [&str; 15] = [
    "record",
    "provider",
    "external_id",
    "kind",
    "name",
    "owner",
    "identity",
    "status",
    "privilege",
    "mfa",
    "created_at",
    "expires_at",
    "last_used_at",
    "last_used_from",
    "scopes",
];

/// Fields every record must have.
pub const REQUIRED: [&str; 4] = ["record", "provider", "external_id", "kind"];

const IDENTITY_ONLY: [&str; 3] = ["name", "privilege", "mfa"];
const CREDENTIAL_ONLY: [&str; 4] = ["identity", "expires_at", "last_used_from", "scopes"];

/// A parsed inventory record.
#[derive(Debug)]
pub enum InventoryRecord {
    /// An identity.
    Identity(Identity),
    /// A credential.
    Credential(Credential),
}

/// A CSV header mapped to the format's fields.
#[derive(Debug, Clone)]
pub struct CsvLayout {
    position: [Option<usize>; 15],
    width: usize,
}

impl CsvLayout {
    /// Maps a header. Unknown or missing required columns are fatal: a misspelt column would
    /// otherwise silently drop data.
    pub fn from_header(names: &[&str]) -> Result<CsvLayout, String> {
        let names: Vec<String> = names
            .iter()
            .map(|n| n.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
            .collect();
        let unknown: Vec<&str> = names
            .iter()
            .filter(|n| !FIELDS.contains(&n.as_str()))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "unknown column(s) {}; the inventory format's columns are: {}",
                unknown.join(", "),
                FIELDS.join(", ")
            ));
        }
        let mut position = [None; 15];
        for (i, field) in FIELDS.iter().enumerate() {
            position[i] = names.iter().position(|n| n == field);
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .filter(|r| !names.iter().any(|n| n == *r))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "header lacks required column(s): {}",
                missing.join(", ")
            ));
        }
        Ok(CsvLayout {
            position,
            width: names.len(),
        })
    }

    /// Parses one CSV row.
    pub fn parse_row(&self, fields: &[&str]) -> Result<InventoryRecord, String> {
        if fields.len() != self.width {
            return Err(format!(
                "expected {} fields as in the header, found {} (truncated or shifted row)",
                self.width,
                fields.len()
            ));
        }
        parse_record(|name| {
            let i = FIELDS.iter().position(|f| *f == name)?;
            self.position[i]
                .map(|p| Cow::Borrowed(fields[p].trim()))
                .filter(|v| !v.is_empty())
        })
    }
}

/// Parses one JSON line.
pub fn parse_json_line(line: &str) -> Result<InventoryRecord, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err("expected a JSON object per line".into());
    };
    if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "unknown field '{unknown}'; the inventory format's fields are: {}",
            FIELDS.join(", ")
        ));
    }
    let bad_type = std::cell::RefCell::new(None::<String>);
    let record = parse_record(|name| {
        let text = match map.get(name)? {
            serde_json::Value::Null => return None,
            serde_json::Value::String(s) => Cow::Borrowed(s.trim()),
            serde_json::Value::Bool(b) => Cow::Owned(b.to_string()),
            serde_json::Value::Array(items) if name == "scopes" => {
                let words: Option<Vec<&str>> =
                    items.iter().map(serde_json::Value::as_str).collect();
                match words {
                    Some(words) => Cow::Owned(words.join(" ")),
                    None => {
                        bad_type
                            .borrow_mut()
                            .get_or_insert(format!("field {name}: expected an array of strings"));
                        return None;
                    }
                }
            }
            _ => {
                bad_type
                    .borrow_mut()
                    .get_or_insert(format!("field {name}: expected a string"));
                return None;
            }
        };
        Some(text).filter(|t| !t.is_empty())
    });
    match bad_type.into_inner() {
        Some(reason) => Err(reason),
        None => record,
    }
}

fn parse_record<'a>(get: impl Fn(&str) -> Option<Cow<'a, str>>) -> Result<InventoryRecord, String> {
    let required =
        |name: &str| get(name).ok_or_else(|| format!("column {name} is empty; it is required"));
    let record = required("record")?;
    let provider =
        Provider::new(&required("provider")?).map_err(|e| format!("column provider: {e}"))?;
    let external_id = required("external_id")?.into_owned();
    let kind = required("kind")?;
    let time = |name: &str| get(name).map(|v| parse_time(name, &v)).transpose();
    let refuse = |fields: &[&str], what: &str| -> Result<(), String> {
        match fields.iter().find(|f| get(f).is_some()) {
            Some(f) => Err(format!(
                "column {f} does not apply to {what} records; leave it empty"
            )),
            None => Ok(()),
        }
    };
    match record.to_ascii_lowercase().as_str() {
        "identity" => {
            refuse(&CREDENTIAL_ONLY, "identity")?;
            let kind: IdentityKind = parse_word("kind", &kind)?;
            let mut identity = Identity::new(provider, external_id, kind);
            if let Some(name) = get("name") {
                identity.name = name.into_owned();
            }
            identity.owner = get("owner").map(Cow::into_owned);
            if let Some(status) = get("status") {
                identity.status = parse_word::<IdentityStatus>("status", &status)?;
            }
            if let Some(privilege) = get("privilege") {
                identity.privilege = parse_word::<PrivilegeTier>("privilege", &privilege)?;
            }
            identity.mfa = get("mfa").map(|v| parse_bool("mfa", &v)).transpose()?;
            identity.created_at = time("created_at")?;
            identity.last_used_at = time("last_used_at")?;
            Ok(InventoryRecord::Identity(identity))
        }
        "credential" => {
            refuse(&IDENTITY_ONLY, "credential")?;
            if get("owner").is_some() {
                return Err("column owner does not apply to credential records: a credential's owner is its identity's owner".into());
            }
            let kind: CredentialKind = parse_word("kind", &kind)?;
            let mut credential = Credential::new(provider.clone(), external_id.clone(), kind);
            credential.native_id = Some(external_id);
            credential.identity = get("identity").map(|i| IdentityId::derive(&provider, &i));
            if let Some(status) = get("status") {
                credential.status = parse_word::<CredentialStatus>("status", &status)?;
            }
            credential.issued_at = time("created_at")?;
            credential.expires_at = time("expires_at")?;
            credential.last_used_at = time("last_used_at")?;
            credential.last_used_from = get("last_used_from").map(Cow::into_owned);
            credential.scopes = get("scopes")
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            Ok(InventoryRecord::Credential(credential))
        }
        _ => Err(format!(
            "column record: '{record}' must be identity or credential"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_identities_and_credentials() {
        let layout = CsvLayout::from_header(&FIELDS).unwrap();
        let mut row = vec![""; 15];
        row[..6].copy_from_slice(&[
            "identity",
            "vault",
            "svc-payments",
            "service",
            "Payments",
            "team-pay",
        ]);
        row[8] = "privileged";
        let InventoryRecord::Identity(identity) = layout.parse_row(&row).unwrap() else {
            panic!()
        };
        assert_eq!(identity.owner.as_deref(), Some("team-pay"));
        assert_eq!(identity.privilege, PrivilegeTier::Privileged);

        let mut row = vec![""; 15];
        row[..4].copy_from_slice(&["credential", "vault", "accessor-1", "api_token"]);
        row[6] = "svc-payments";
        row[11] = "2027-01-01";
        row[14] = "read write";
        let InventoryRecord::Credential(c) = layout.parse_row(&row).unwrap() else {
            panic!()
        };
        assert_eq!(c.identity, Some(identity.id));
        assert_eq!(c.scopes, vec!["read", "write"]);
        assert!(!c.is_persistent());
    }

    #[test]
    fn json_lines_use_the_same_fields() {
        let line = r#"{"record":"credential","provider":"k8s","external_id":"sa-token-1","kind":"api_token","scopes":["get","list"]}"#;
        let InventoryRecord::Credential(c) = parse_json_line(line).unwrap() else {
            panic!()
        };
        assert_eq!(c.scopes, vec!["get", "list"]);
        assert!(c.identity.is_none());
        let err = parse_json_line(
            r#"{"record":"identity","provider":"k8s","external_id":"x","kind":"robot"}"#,
        )
        .unwrap_err();
        assert!(
            err.contains("'robot' is not a known identity kind"),
            "{err}"
        );
        let err = parse_json_line(
            r#"{"record":"identity","provider":"k8s","external_id":"x","kind":"bot","expire":"1"}"#,
        )
        .unwrap_err();
        assert!(err.contains("unknown field 'expire'"), "{err}");
    }

    #[test]
    fn headers_must_use_known_columns() {
        let err = CsvLayout::from_header(&["record", "provider", "external_id", "kind", "expiry"])
            .unwrap_err();
        assert!(err.contains("unknown column(s) expiry"), "{err}");
        let err = CsvLayout::from_header(&["record", "provider", "kind"]).unwrap_err();
        assert!(
            err.contains("lacks required column(s): external_id"),
            "{err}"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_json_line_parses_or_is_rejected(line in "\\PC{0,200}") {
            let _ = parse_json_line(&line);
        }

        #[test]
        fn any_csv_row_parses_or_is_rejected(fields in proptest::collection::vec("[ -~]{0,20}|identity|credential|okta|human|api_token", 15)) {
            let layout = CsvLayout::from_header(&FIELDS).unwrap();
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            if let Err(reason) = layout.parse_row(&refs) {
                prop_assert!(!reason.is_empty());
            }
        }
    }
}
