//! What a Security Event Token says: one event (CAEP or RISC) about one subject.
//!
//! The four event types Evict emits, with their exact URIs:
//!
//! | event | URI | spec |
//! |---|---|---|
//! | session revoked | `https://schemas.openid.net/secevent/caep/event-type/session-revoked` | OpenID CAEP 1.0 §3.1 |
//! | credential change | `https://schemas.openid.net/secevent/caep/event-type/credential-change` | OpenID CAEP 1.0 §3.3 |
//! | credential compromise | `https://schemas.openid.net/secevent/risc/event-type/credential-compromise` | OpenID RISC 1.0 §2.7 |
//! | account disabled | `https://schemas.openid.net/secevent/risc/event-type/account-disabled` | OpenID RISC 1.0 §2.3 |
//!
//! Subjects are RFC 9493 Subject Identifiers, carried in the SET's top-level `sub_id` claim as
//! OpenID SSF 1.0 §3.1 requires (never in `sub`, and no longer inside the event).
//!
//! An event never carries a secret: a credential is named by its provider id (an access key
//! id, a token id), never by its value, preview or fingerprint.

use std::collections::BTreeMap;

use evict_model::{ActionKind, CredentialKind};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::provider::{Target, TargetKind};

/// CAEP 1.0 §3.1: the session named by the subject was revoked.
pub const SESSION_REVOKED: &str =
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
/// CAEP 1.0 §3.3: a credential was created, changed, revoked or deleted.
pub const CREDENTIAL_CHANGE: &str =
    "https://schemas.openid.net/secevent/caep/event-type/credential-change";
/// RISC 1.0 §2.7: a credential of the subject was found compromised.
pub const CREDENTIAL_COMPROMISE: &str =
    "https://schemas.openid.net/secevent/risc/event-type/credential-compromise";
/// RISC 1.0 §2.3: the account named by the subject was disabled.
pub const ACCOUNT_DISABLED: &str =
    "https://schemas.openid.net/secevent/risc/event-type/account-disabled";

/// Every event type URI Evict emits.
pub const EVENT_TYPES: [&str; 4] = [
    SESSION_REVOKED,
    CREDENTIAL_CHANGE,
    CREDENTIAL_COMPROMISE,
    ACCOUNT_DISABLED,
];

/// An RFC 9493 Subject Identifier (with OpenID SSF 1.0's `complex` format): who or what an
/// event is about, in a form the receiver can match against its own sessions and accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum SubjectId {
    /// RFC 9493 §3.2.2: an email address.
    Email {
        /// The address.
        email: String,
    },
    /// RFC 9493 §3.2.3: a subject as an issuer names it (an OIDC provider's `iss` and `sub`).
    IssSub {
        /// The issuer.
        iss: String,
        /// The subject at that issuer.
        sub: String,
    },
    /// RFC 9493 §3.2.4: an identifier both sides agree on (a provider's user id, a session id).
    Opaque {
        /// The identifier.
        id: String,
    },
    /// RFC 9493 §3.2.1: an `acct:` URI (RFC 7565).
    Account {
        /// The `acct:` URI.
        uri: String,
    },
    /// SSF 1.0 §3.3: several simple identifiers naming one principal (a user's session).
    Complex(ComplexSubject),
}

/// The members of an SSF complex subject; each is a simple subject identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplexSubject {
    /// The user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Box<SubjectId>>,
    /// The session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Box<SubjectId>>,
    /// The tenant (an organisation or account at the provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Box<SubjectId>>,
}

impl SubjectId {
    /// An `email` subject.
    pub fn email(email: impl Into<String>) -> SubjectId {
        SubjectId::Email {
            email: email.into(),
        }
    }

    /// An `iss_sub` subject.
    pub fn iss_sub(iss: impl Into<String>, sub: impl Into<String>) -> SubjectId {
        SubjectId::IssSub {
            iss: iss.into(),
            sub: sub.into(),
        }
    }

    /// An `opaque` subject.
    pub fn opaque(id: impl Into<String>) -> SubjectId {
        SubjectId::Opaque { id: id.into() }
    }

    /// An `account` subject; `uri` must be an `acct:` URI.
    pub fn account(uri: impl Into<String>) -> Result<SubjectId, String> {
        let uri = uri.into();
        if uri.len() > "acct:".len() && uri.starts_with("acct:") {
            Ok(SubjectId::Account { uri })
        } else {
            Err(format!(
                "an account subject is an acct: URI (RFC 7565), not '{uri}'"
            ))
        }
    }

    /// The subject for an identity of a provider: `iss_sub` when the provider's issuer is
    /// known (an OIDC provider's `iss`, which is how its relying parties know the user), else
    /// `email` when the provider's id or name is an address, else `opaque` with the provider's
    /// own id.
    pub fn for_identity(identity: &evict_model::Identity, issuer: Option<&str>) -> SubjectId {
        if let Some(iss) = issuer {
            return SubjectId::iss_sub(iss, &identity.external_id);
        }
        [&identity.external_id, &identity.name]
            .into_iter()
            .find(|text| looks_like_email(text))
            .map(|email| SubjectId::email(email.as_str()))
            .unwrap_or_else(|| SubjectId::opaque(&identity.external_id))
    }

    /// A session of a user: SSF's complex subject with the session's provider id (opaque) and,
    /// when known, the user it belongs to.
    pub fn for_session(session_id: impl Into<String>, user: Option<SubjectId>) -> SubjectId {
        SubjectId::Complex(ComplexSubject {
            user: user.map(Box::new),
            session: Some(Box::new(SubjectId::opaque(session_id))),
            tenant: None,
        })
    }

    /// Checks what RFC 9493 and SSF require: no empty member, a complex subject with at least
    /// one member, and only simple identifiers inside it.
    pub fn check(&self) -> Result<(), String> {
        let non_empty = |what: &str, value: &str| {
            if value.trim().is_empty() {
                Err(format!("the subject's {what} is empty"))
            } else {
                Ok(())
            }
        };
        match self {
            SubjectId::Email { email } => {
                non_empty("email", email)?;
                if !looks_like_email(email) {
                    return Err(format!("'{email}' is not an email address"));
                }
                Ok(())
            }
            SubjectId::IssSub { iss, sub } => {
                non_empty("iss", iss)?;
                non_empty("sub", sub)
            }
            SubjectId::Opaque { id } => non_empty("id", id),
            SubjectId::Account { uri } => SubjectId::account(uri.as_str()).map(|_| ()),
            SubjectId::Complex(complex) => {
                let members = [&complex.user, &complex.session, &complex.tenant];
                if members.iter().all(|m| m.is_none()) {
                    return Err("a complex subject needs at least one member".into());
                }
                for member in members.into_iter().flatten() {
                    if matches!(**member, SubjectId::Complex(_)) {
                        return Err("a complex subject's members are simple identifiers".into());
                    }
                    member.check()?;
                }
                Ok(())
            }
        }
    }
}

fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.chars().any(|c| c.is_whitespace() || c == '/')
                && !domain.contains('@')
        }
        None => false,
    }
}

/// CAEP 1.0 §2 `initiating_entity`: what set the event off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitiatingEntity {
    /// A person with administrative rights (a responder executing a containment plan).
    Admin,
    /// The end user.
    User,
    /// A policy evaluation (a just-in-time grant expiring, a tier policy).
    Policy,
    /// The platform itself.
    System,
}

/// CAEP 1.0 §3.3 `credential_type`. `Other` carries a type outside the spec's list, which the
/// spec allows when "supported mutually by the Transmitter and the Receiver": Evict then sends
/// its own credential kind (`api_token`, `access_key`, `ssh_key`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialType {
    /// `password`.
    Password,
    /// `pin`.
    Pin,
    /// `x509`.
    X509,
    /// `fido2-platform`.
    Fido2Platform,
    /// `fido2-roaming`.
    Fido2Roaming,
    /// `fido-u2f`.
    FidoU2f,
    /// `verifiable-credential`.
    VerifiableCredential,
    /// `phone-voice`.
    PhoneVoice,
    /// `phone-sms`.
    PhoneSms,
    /// `app`.
    App,
    /// A type the transmitter and receiver agree on.
    Other(String),
}

impl CredentialType {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            CredentialType::Password => "password",
            CredentialType::Pin => "pin",
            CredentialType::X509 => "x509",
            CredentialType::Fido2Platform => "fido2-platform",
            CredentialType::Fido2Roaming => "fido2-roaming",
            CredentialType::FidoU2f => "fido-u2f",
            CredentialType::VerifiableCredential => "verifiable-credential",
            CredentialType::PhoneVoice => "phone-voice",
            CredentialType::PhoneSms => "phone-sms",
            CredentialType::App => "app",
            CredentialType::Other(other) => other,
        }
    }

    /// The CAEP type of an Evict credential kind: a password is `password`, a certificate
    /// `x509`; every other kind is sent under its Evict name, which the receiver must know.
    pub fn of_kind(kind: CredentialKind) -> CredentialType {
        match kind {
            CredentialKind::Password => CredentialType::Password,
            CredentialKind::Certificate => CredentialType::X509,
            other => CredentialType::Other(other.as_str().to_string()),
        }
    }
}

/// CAEP 1.0 §3.3 `change_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeType {
    /// A credential was created.
    Create,
    /// A credential was revoked (it exists but no longer works).
    Revoke,
    /// A credential was changed (rotated).
    Update,
    /// A credential was deleted.
    Delete,
}

/// RISC 1.0 §2.3 account-disabled `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisabledReason {
    /// The account was taken over.
    Hijacking,
    /// The account is one of many created in bulk (an attacker's).
    BulkAccount,
}

/// The claims CAEP 1.0 §2 gives every CAEP event: when, who set it off, and why (for the
/// receiver's administrators; never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaepContext {
    /// When the change took effect at the provider (`event_timestamp`).
    pub event_timestamp: Timestamp,
    /// What set it off.
    pub initiating_entity: InitiatingEntity,
    /// Why, in English, for logs and audits (`reason_admin`).
    pub reason_admin: Option<String>,
}

/// One security event; a SET carries exactly one (SSF 1.0: the "events" claim SHOULD contain only one event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityEvent {
    /// CAEP session-revoked.
    SessionRevoked(CaepContext),
    /// CAEP credential-change.
    CredentialChange {
        /// The kind of credential.
        credential_type: CredentialType,
        /// What happened to it.
        change_type: ChangeType,
        /// Its provider id (an access key id, a token id): never its value.
        friendly_name: Option<String>,
        /// When, who, why.
        context: CaepContext,
    },
    /// RISC credential-compromise.
    CredentialCompromise {
        /// The kind of credential.
        credential_type: CredentialType,
        /// When the compromise was discovered.
        event_timestamp: Option<Timestamp>,
        /// Why, in English, for administrators.
        reason_admin: Option<String>,
    },
    /// RISC account-disabled.
    AccountDisabled {
        /// Why, when it is one of RISC's reasons.
        reason: Option<DisabledReason>,
    },
}

/// What Evict did and why: the context a SET built from an action carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occasion {
    /// When the action took effect.
    pub at: Timestamp,
    /// Who set it off (a responder: `admin`; an expiring grant: `policy`).
    pub initiated_by: InitiatingEntity,
    /// Why, in English, for the receiver's administrators (an incident name, a grant's end).
    pub reason: Option<String>,
    /// Whether the subject is known or believed compromised (an incident's footholds).
    pub compromised: bool,
}

impl SecurityEvent {
    /// Its event type URI.
    pub fn uri(&self) -> &'static str {
        match self {
            SecurityEvent::SessionRevoked(_) => SESSION_REVOKED,
            SecurityEvent::CredentialChange { .. } => CREDENTIAL_CHANGE,
            SecurityEvent::CredentialCompromise { .. } => CREDENTIAL_COMPROMISE,
            SecurityEvent::AccountDisabled { .. } => ACCOUNT_DISABLED,
        }
    }

    /// The event's members, as they go under its URI in the `events` claim.
    pub fn payload(&self) -> Value {
        let mut body = BTreeMap::new();
        let reason = |text: &str| json!({ "en": text });
        let caep = |body: &mut BTreeMap<&str, Value>, context: &CaepContext| {
            body.insert(
                "event_timestamp",
                json!(context.event_timestamp.as_second()),
            );
            body.insert("initiating_entity", json!(context.initiating_entity));
            if let Some(text) = &context.reason_admin {
                body.insert("reason_admin", reason(text));
            }
        };
        match self {
            SecurityEvent::SessionRevoked(context) => caep(&mut body, context),
            SecurityEvent::CredentialChange {
                credential_type,
                change_type,
                friendly_name,
                context,
            } => {
                body.insert("credential_type", json!(credential_type.as_str()));
                body.insert("change_type", json!(change_type));
                if let Some(name) = friendly_name {
                    body.insert("friendly_name", json!(name));
                }
                caep(&mut body, context);
            }
            SecurityEvent::CredentialCompromise {
                credential_type,
                event_timestamp,
                reason_admin,
            } => {
                body.insert("credential_type", json!(credential_type.as_str()));
                if let Some(at) = event_timestamp {
                    body.insert("event_timestamp", json!(at.as_second()));
                }
                if let Some(text) = reason_admin {
                    body.insert("reason_admin", reason(text));
                }
            }
            SecurityEvent::AccountDisabled { reason } => {
                if let Some(reason) = reason {
                    body.insert("reason", json!(reason));
                }
            }
        }
        json!(body)
    }

    /// The event that tells receivers about `action` done to `target`, or `None` when the
    /// action changes nothing a receiver caches (examine, revert, rotating a signing key —
    /// the last is announced by publishing the new key, not by an event).
    ///
    /// Identity: disable or delete → account-disabled (reason `hijacking` when compromised);
    /// terminate sessions → session-revoked. Session: revoke, delete or terminate →
    /// session-revoked. Other credentials: revoke or disable → credential-change `revoke`;
    /// delete → `delete`; rotate → `update`, named by the target's provider id.
    pub fn for_action(
        target: &Target,
        action: ActionKind,
        occasion: &Occasion,
    ) -> Option<SecurityEvent> {
        let context = CaepContext {
            event_timestamp: occasion.at,
            initiating_entity: occasion.initiated_by,
            reason_admin: occasion.reason.clone(),
        };
        match target.kind {
            TargetKind::Identity => match action {
                ActionKind::Disable | ActionKind::Delete => Some(SecurityEvent::AccountDisabled {
                    reason: occasion.compromised.then_some(DisabledReason::Hijacking),
                }),
                ActionKind::TerminateSessions => Some(SecurityEvent::SessionRevoked(context)),
                _ => None,
            },
            TargetKind::Credential(CredentialKind::Session) => match action {
                ActionKind::Revoke
                | ActionKind::Delete
                | ActionKind::Disable
                | ActionKind::TerminateSessions => Some(SecurityEvent::SessionRevoked(context)),
                _ => None,
            },
            TargetKind::Credential(kind) => {
                let change_type = match action {
                    ActionKind::Revoke | ActionKind::Disable => ChangeType::Revoke,
                    ActionKind::Delete => ChangeType::Delete,
                    ActionKind::Rotate => ChangeType::Update,
                    _ => return None,
                };
                Some(SecurityEvent::CredentialChange {
                    credential_type: CredentialType::of_kind(kind),
                    change_type,
                    friendly_name: Some(target.native_id.clone()),
                    context,
                })
            }
        }
    }

    /// RISC credential-compromise for a credential of kind `kind` found compromised (exposed
    /// in scope, used from an attacker's address).
    pub fn compromise(kind: CredentialKind, occasion: &Occasion) -> SecurityEvent {
        SecurityEvent::CredentialCompromise {
            credential_type: CredentialType::of_kind(kind),
            event_timestamp: Some(occasion.at),
            reason_admin: occasion.reason.clone(),
        }
    }
}

/// One thing to tell every receiver: an event, its subject, and optionally the transaction
/// it belongs to (`txn`: the incident or the action's idempotency key), so a receiver can
/// tie related SETs together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// Who or what the event is about.
    pub subject: SubjectId,
    /// The event.
    pub event: SecurityEvent,
    /// The transaction it belongs to.
    pub txn: Option<String>,
}

impl Signal {
    /// A signal without a transaction.
    pub fn new(subject: SubjectId, event: SecurityEvent) -> Signal {
        Signal {
            subject,
            event,
            txn: None,
        }
    }

    /// The same signal as part of transaction `txn`.
    pub fn in_transaction(mut self, txn: impl Into<String>) -> Signal {
        self.txn = Some(txn.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occasion(compromised: bool) -> Occasion {
        Occasion {
            at: Timestamp::from_second(1_700_000_000).unwrap(),
            initiated_by: InitiatingEntity::Admin,
            reason: Some("incident 2025-07 containment".into()),
            compromised,
        }
    }

    #[test]
    fn event_type_uris_are_the_specs_exactly() {
        assert_eq!(
            SESSION_REVOKED,
            "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
        );
        assert_eq!(
            CREDENTIAL_CHANGE,
            "https://schemas.openid.net/secevent/caep/event-type/credential-change"
        );
        assert_eq!(
            CREDENTIAL_COMPROMISE,
            "https://schemas.openid.net/secevent/risc/event-type/credential-compromise"
        );
        assert_eq!(
            ACCOUNT_DISABLED,
            "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
        );
        let o = occasion(true);
        let key = Target::credential(CredentialKind::AccessKey, "AKIAEXAMPLEKEYID0001");
        let events = [
            SecurityEvent::for_action(
                &Target::identity("alice"),
                ActionKind::TerminateSessions,
                &o,
            ),
            SecurityEvent::for_action(&key, ActionKind::Revoke, &o),
            Some(SecurityEvent::compromise(CredentialKind::AccessKey, &o)),
            SecurityEvent::for_action(&Target::identity("alice"), ActionKind::Disable, &o),
        ];
        let uris: Vec<_> = events.iter().map(|e| e.as_ref().unwrap().uri()).collect();
        assert_eq!(uris, EVENT_TYPES);
    }

    #[test]
    fn events_carry_the_claims_their_specs_require() {
        let o = occasion(true);
        let key = Target::credential(CredentialKind::Password, "alice/password");
        let change = SecurityEvent::for_action(&key, ActionKind::Revoke, &o)
            .unwrap()
            .payload();
        assert_eq!(change["credential_type"], "password");
        assert_eq!(change["change_type"], "revoke");
        assert_eq!(change["friendly_name"], "alice/password");
        assert_eq!(change["event_timestamp"], 1_700_000_000);
        assert_eq!(change["initiating_entity"], "admin");
        assert_eq!(change["reason_admin"]["en"], "incident 2025-07 containment");

        let rotated = SecurityEvent::for_action(
            &Target::credential(CredentialKind::ApiToken, "tok-1"),
            ActionKind::Rotate,
            &o,
        )
        .unwrap()
        .payload();
        assert_eq!(rotated["change_type"], "update");
        assert_eq!(
            rotated["credential_type"], "api_token",
            "a kind outside CAEP's list goes by Evict's name"
        );

        let compromise = SecurityEvent::compromise(CredentialKind::Certificate, &o).payload();
        assert_eq!(compromise["credential_type"], "x509");
        assert!(
            compromise.get("initiating_entity").is_none(),
            "not a RISC claim"
        );

        let disabled = SecurityEvent::for_action(&Target::identity("a"), ActionKind::Delete, &o)
            .unwrap()
            .payload();
        assert_eq!(disabled, json!({ "reason": "hijacking" }));
        let routine = SecurityEvent::for_action(
            &Target::identity("a"),
            ActionKind::Disable,
            &occasion(false),
        )
        .unwrap()
        .payload();
        assert_eq!(
            routine,
            json!({}),
            "no reason is claimed without a compromise"
        );

        let session = SecurityEvent::for_action(
            &Target::credential(CredentialKind::Session, "4711"),
            ActionKind::TerminateSessions,
            &o,
        )
        .unwrap();
        assert_eq!(session.uri(), SESSION_REVOKED);
        assert!(
            SecurityEvent::for_action(&Target::identity("a"), ActionKind::Examine, &o).is_none()
        );
    }

    #[test]
    fn subjects_serialise_as_rfc_9493_identifiers() {
        let mut identity = evict_model::Identity::new(
            evict_model::Provider::new("okta").unwrap(),
            "00u1abcd",
            evict_model::IdentityKind::Human,
        );
        assert_eq!(
            serde_json::to_value(SubjectId::for_identity(
                &identity,
                Some("https://example.okta.com")
            ))
            .unwrap(),
            json!({ "format": "iss_sub", "iss": "https://example.okta.com", "sub": "00u1abcd" })
        );
        assert_eq!(
            serde_json::to_value(SubjectId::for_identity(&identity, None)).unwrap(),
            json!({ "format": "opaque", "id": "00u1abcd" })
        );
        identity.name = "alice@example.com".into();
        assert_eq!(
            serde_json::to_value(SubjectId::for_identity(&identity, None)).unwrap(),
            json!({ "format": "email", "email": "alice@example.com" })
        );
        let session = SubjectId::for_session("s-42", Some(SubjectId::email("a@example.com")));
        assert_eq!(
            serde_json::to_value(&session).unwrap(),
            json!({
                "format": "complex",
                "user": { "format": "email", "email": "a@example.com" },
                "session": { "format": "opaque", "id": "s-42" },
            })
        );
        session.check().unwrap();
        assert_eq!(
            serde_json::to_value(SubjectId::account("acct:alice@example.com").unwrap()).unwrap(),
            json!({ "format": "account", "uri": "acct:alice@example.com" })
        );
        assert!(SubjectId::account("alice@example.com").is_err());
        assert!(SubjectId::opaque(" ").check().is_err());
        assert!(SubjectId::email("not-an-address").check().is_err());
        let nested = SubjectId::Complex(ComplexSubject {
            user: Some(Box::new(session)),
            ..ComplexSubject::default()
        });
        assert!(nested.check().is_err());
        assert!(
            SubjectId::Complex(ComplexSubject::default())
                .check()
                .is_err()
        );
    }
}
