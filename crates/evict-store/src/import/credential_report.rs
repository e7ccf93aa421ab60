//! The AWS IAM credential report (CSV, 22 columns, one row per IAM user plus the root account).
//!
//! The report names no access key ids, so each user's two key slots and two signing
//! certificate slots become credentials keyed `<user arn>#access_key_1` and so on; discovery
//! later attaches the real key id to the slot (`native_id`).

use evict_model::{
    Credential, CredentialKind, CredentialStatus, Identity, IdentityKind, PrivilegeTier, Provider,
};
use jiff::Timestamp;

use super::values::{parse_bool, parse_time};
use crate::text::shown_value;

/// The report's columns, in AWS's order.
pub const COLUMNS: [&str; 22] = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
];

const USER: usize = 0;
const ARN: usize = 1;
const CREATED: usize = 2;
const PASSWORD_ENABLED: usize = 3;
const PASSWORD_LAST_USED: usize = 4;
const PASSWORD_LAST_CHANGED: usize = 5;
const PASSWORD_NEXT_ROTATION: usize = 6;
const MFA: usize = 7;
const KEY_SLOTS: [usize; 2] = [8, 13];
const CERT_SLOTS: [usize; 2] = [18, 20];

/// The values AWS writes where there is nothing to report.
const SENTINELS: [&str; 4] = ["N/A", "no_information", "not_supported", ""];

/// A parsed header: where each of AWS's columns sits in this file.
#[derive(Debug, Clone)]
pub struct ReportLayout {
    position: [usize; 22],
    width: usize,
}

/// What a header check found that is worth saying but not fatal.
pub type Warnings = Vec<String>;

impl ReportLayout {
    /// Maps the header by name. Missing columns are fatal; extra ones are ignored with a
    /// warning; a different order is accepted with a warning.
    pub fn from_header(names: &[&str]) -> Result<(ReportLayout, Warnings), String> {
        let names: Vec<String> = names
            .iter()
            .map(|n| n.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
            .collect();
        let mut position = [usize::MAX; 22];
        for (i, column) in COLUMNS.iter().enumerate() {
            if let Some(p) = names.iter().position(|n| n == column) {
                position[i] = p;
            }
        }
        let missing: Vec<&str> = COLUMNS
            .iter()
            .zip(position)
            .filter(|(_, p)| *p == usize::MAX)
            .map(|(c, _)| *c)
            .collect();
        if !missing.is_empty() {
            let hint = if missing.len() >= 20 {
                " — this does not look like an AWS credential report (aws iam get-credential-report)"
            } else {
                ""
            };
            return Err(format!(
                "header is missing {} of the report's 22 columns: {}{hint}",
                missing.len(),
                missing.join(", ")
            ));
        }
        let mut warnings = Vec::new();
        let extra: Vec<&str> = names
            .iter()
            .filter(|n| !COLUMNS.contains(&n.as_str()))
            .map(String::as_str)
            .collect();
        if !extra.is_empty() {
            warnings.push(format!(
                "ignoring columns this version does not know: {}",
                extra.join(", ")
            ));
        }
        if position.iter().enumerate().any(|(i, p)| *p != i) {
            warnings.push("columns are not in AWS's order; they were matched by name".to_string());
        }
        Ok((
            ReportLayout {
                position,
                width: names.len(),
            },
            warnings,
        ))
    }

    /// Turns one row into the user and its credentials.
    pub fn parse_row(&self, fields: &[&str]) -> Result<(Identity, Vec<Credential>), String> {
        if fields.len() != self.width {
            return Err(format!(
                "expected {} fields as in the header, found {} (truncated or shifted row)",
                self.width,
                fields.len()
            ));
        }
        let get = |c: usize| fields[self.position[c]].trim();
        let date = |c: usize| -> Result<Option<Timestamp>, String> {
            let v = get(c);
            if SENTINELS.contains(&v) {
                Ok(None)
            } else {
                parse_time(COLUMNS[c], v).map(Some)
            }
        };
        let boolean = |c: usize| -> Result<Option<bool>, String> {
            let v = get(c);
            if v == "not_supported" {
                Ok(None)
            } else {
                parse_bool(COLUMNS[c], v).map(Some)
            }
        };
        let aws = Provider::new("aws").map_err(|e| e.to_string())?;

        let user = get(USER);
        let arn = get(ARN);
        if !arn.starts_with("arn:") {
            return Err(format!("column arn: {} is not an ARN", shown_value(arn)));
        }
        if user.is_empty() {
            return Err("column user is empty".into());
        }
        let root = user == "<root_account>";
        let password_enabled = boolean(PASSWORD_ENABLED)?;
        let password_last_used = date(PASSWORD_LAST_USED)?;
        let mfa = boolean(MFA)?;

        let mut credentials = Vec::new();
        let mut last_used = password_last_used;
        // The root account always has a sign-in password the report cannot describe
        // (password_enabled is not_supported), so it is kept as a credential to account for.
        if password_enabled == Some(true) || root {
            let mut c = Credential::new(
                aws.clone(),
                format!("{arn}#password"),
                CredentialKind::Password,
            );
            c.issued_at = date(PASSWORD_LAST_CHANGED)?;
            c.expires_at = date(PASSWORD_NEXT_ROTATION)?;
            c.last_used_at = password_last_used;
            credentials.push(c);
        } else {
            // Still validate the columns so a bad value is reported wherever it is.
            date(PASSWORD_LAST_CHANGED)?;
            date(PASSWORD_NEXT_ROTATION)?;
        }
        for (n, &first) in KEY_SLOTS.iter().enumerate() {
            let active = boolean(first)?.unwrap_or(false);
            let rotated = date(first + 1)?;
            let used = date(first + 2)?;
            let region = get(first + 3);
            let service = get(first + 4);
            // A slot holds a key when it is active or has a rotation date (an inactive key).
            if !active && rotated.is_none() {
                continue;
            }
            let mut c = Credential::new(
                aws.clone(),
                format!("{arn}#access_key_{}", n + 1),
                CredentialKind::AccessKey,
            );
            c.status = if active {
                CredentialStatus::Active
            } else {
                CredentialStatus::Inactive
            };
            c.issued_at = rotated;
            c.last_used_at = used;
            let from: Vec<&str> = [region, service]
                .into_iter()
                .filter(|v| !SENTINELS.contains(v))
                .collect();
            c.last_used_from = (!from.is_empty()).then(|| from.join(" "));
            last_used = last_used.max(used);
            credentials.push(c);
        }
        for (n, &first) in CERT_SLOTS.iter().enumerate() {
            let active = boolean(first)?.unwrap_or(false);
            let rotated = date(first + 1)?;
            if !active && rotated.is_none() {
                continue;
            }
            let mut c = Credential::new(
                aws.clone(),
                format!("{arn}#cert_{}", n + 1),
                CredentialKind::Certificate,
            );
            c.status = if active {
                CredentialStatus::Active
            } else {
                CredentialStatus::Inactive
            };
            c.issued_at = rotated;
            credentials.push(c);
        }

        let kind = if root {
            IdentityKind::Root
        } else if password_enabled == Some(true) || mfa == Some(true) {
            IdentityKind::Human
        } else {
            IdentityKind::Service
        };
        let mut identity = Identity::new(aws, arn, kind);
        identity.name = user.to_string();
        identity.mfa = mfa;
        identity.created_at = date(CREATED)?;
        identity.last_used_at = last_used;
        if root {
            identity.privilege = PrivilegeTier::Admin;
        }
        for c in &mut credentials {
            c.identity = Some(identity.id.clone());
        }
        Ok((identity, credentials))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> ReportLayout {
        ReportLayout::from_header(&COLUMNS).unwrap().0
    }

    fn row(values: &[&str]) -> Result<(Identity, Vec<Credential>), String> {
        layout().parse_row(values)
    }

    const ROOT: [&str; 22] = [
        "<root_account>",
        "arn:aws:iam::123456789012:root",
        "2019-03-01T10:00:00+00:00",
        "not_supported",
        "2024-05-01T08:00:00+00:00",
        "not_supported",
        "not_supported",
        "true",
        "false",
        "N/A",
        "N/A",
        "N/A",
        "N/A",
        "false",
        "N/A",
        "N/A",
        "N/A",
        "N/A",
        "false",
        "N/A",
        "false",
        "N/A",
    ];

    #[test]
    fn the_root_row_is_an_admin_root_with_its_password() {
        let (identity, creds) = row(&ROOT).unwrap();
        assert_eq!(identity.kind, IdentityKind::Root);
        assert_eq!(identity.privilege, PrivilegeTier::Admin);
        assert_eq!(identity.mfa, Some(true));
        assert_eq!(creds.len(), 1);
        assert_eq!(creds[0].kind, CredentialKind::Password);
        assert_eq!(
            creds[0].last_used_at.unwrap().to_string(),
            "2024-05-01T08:00:00Z"
        );
    }

    #[test]
    fn key_slots_become_credentials_only_when_a_key_exists() {
        let mut v = ROOT;
        v[0] = "ci-deployer";
        v[1] = "arn:aws:iam::123456789012:user/ci-deployer";
        v[3] = "false";
        v[4] = "N/A";
        v[5] = "N/A";
        v[6] = "N/A";
        v[7] = "false";
        // key 1 active and used; key 2 inactive but present
        v[8..13].copy_from_slice(&[
            "true",
            "2023-01-01T00:00:00+00:00",
            "2024-06-01T00:00:00+00:00",
            "eu-west-1",
            "s3",
        ]);
        v[13..18].copy_from_slice(&["false", "2022-01-01T00:00:00+00:00", "N/A", "N/A", "N/A"]);
        let (identity, creds) = row(&v).unwrap();
        assert_eq!(identity.kind, IdentityKind::Service);
        assert_eq!(creds.len(), 2);
        assert_eq!(
            creds[0].external_key,
            "arn:aws:iam::123456789012:user/ci-deployer#access_key_1"
        );
        assert_eq!(creds[0].last_used_from.as_deref(), Some("eu-west-1 s3"));
        assert!(creds[0].is_persistent());
        assert_eq!(creds[1].status, CredentialStatus::Inactive);
        assert_eq!(
            identity.last_used_at.unwrap().to_string(),
            "2024-06-01T00:00:00Z"
        );
    }

    #[test]
    fn bad_values_name_their_column() {
        let mut v = ROOT;
        v[7] = "yes";
        assert!(
            row(&v)
                .unwrap_err()
                .contains("column mfa_active: expected true or false")
        );
        let mut v = ROOT;
        v[2] = "2019/03/01";
        assert!(row(&v).unwrap_err().contains("column user_creation_time"));
        assert!(
            row(&ROOT[..7])
                .unwrap_err()
                .contains("expected 22 fields as in the header, found 7")
        );
    }

    #[test]
    fn headers_are_matched_by_name() {
        let mut reordered = COLUMNS;
        reordered.swap(0, 1);
        let (layout, warnings) = ReportLayout::from_header(&reordered).unwrap();
        assert!(warnings[0].contains("not in AWS's order"));
        let mut v = ROOT;
        v.swap(0, 1);
        assert_eq!(layout.parse_row(&v).unwrap().0.name, "<root_account>");
        let err = ReportLayout::from_header(&["name", "email"]).unwrap_err();
        assert!(
            err.contains("does not look like an AWS credential report"),
            "{err}"
        );
        let err = ReportLayout::from_header(&COLUMNS[..21]).unwrap_err();
        assert!(
            err.contains("missing 1 of the report's 22 columns: cert_2_last_rotated"),
            "{err}"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any row, however malformed, is either parsed or rejected with a reason; never a panic.
        #[test]
        fn any_row_parses_or_is_rejected(fields in proptest::collection::vec("[ -~]{0,30}|N/A|true|false|2024-01-01T00:00:00\\+00:00", 0..26)) {
            let layout = ReportLayout::from_header(&COLUMNS).unwrap().0;
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            match layout.parse_row(&refs) {
                Ok((identity, credentials)) => {
                    prop_assert!(credentials.iter().all(|c| c.identity.as_ref() == Some(&identity.id)));
                    prop_assert!(credentials.len() <= 5);
                }
                Err(reason) => prop_assert!(!reason.is_empty()),
            }
        }
    }
}
