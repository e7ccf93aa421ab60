//! Security Event Tokens (RFC 8417) as OpenID SSF 1.0 profiles them: a JWS in compact form,
//! header `typ: secevent+jwt` (explicit typing), `alg: EdDSA` (Ed25519) and `kid`; claims
//! `iss`, `iat`, `jti` (unique per SET), `aud` (one receiver), `sub_id` (the subject), `events`
//! (exactly one event) and optionally `txn`. There is no `sub` and no `exp`: SSF forbids both so
//! that a SET can never be mistaken for an ID or access token.
//!
//! [`verify_set`] is the receiving side: it checks all of the above and answers with the
//! RFC 8935 §2.4 error code a push endpoint sends back when it refuses a SET.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use evict_model::SecretString;
use jiff::Timestamp;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::Value;

use super::event::{Signal, SubjectId};
use crate::provider::ConnectorError;

/// The JOSE `typ` of a SET (RFC 8417 §2.3, required by SSF 1.0).
pub const SET_TYPE: &str = "secevent+jwt";

/// The one signing algorithm Evict uses and accepts.
pub const SET_ALGORITHM: Algorithm = Algorithm::EdDSA;

/// Signs SETs with the transmitter's Ed25519 key.
pub struct SetSigner {
    key: EncodingKey,
    key_id: String,
    issuer: String,
    public: Jwk,
}

impl fmt::Debug for SetSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetSigner")
            .field("issuer", &self.issuer)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A signed SET, ready to POST. The token holds no secret, but a receiver accepts each `jti`
/// once, so the token is not printed: `Debug` shows the `jti` and the audience.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedSet {
    /// The SET's unique id.
    pub jti: String,
    /// The receiver it is addressed to.
    pub audience: String,
    /// The compact JWS.
    pub token: String,
}

impl fmt::Debug for SignedSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedSet")
            .field("jti", &self.jti)
            .field("audience", &self.audience)
            .field("token", &format_args!("[{} bytes]", self.token.len()))
            .finish()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
    jti: &'a str,
    aud: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    txn: Option<&'a str>,
    sub_id: &'a SubjectId,
    events: BTreeMap<&'static str, Value>,
}

impl SetSigner {
    /// A signer with the Ed25519 private key in `pem` (PKCS#8, `-----BEGIN PRIVATE KEY-----`, as
    /// `openssl genpkey -algorithm ed25519` writes it), published under `key_id`, signing as
    /// `issuer`.
    pub fn from_pkcs8_pem(
        pem: &SecretString,
        key_id: impl Into<String>,
        issuer: impl Into<String>,
    ) -> Result<SetSigner, ConnectorError> {
        let (key_id, issuer) = (key_id.into(), issuer.into());
        if key_id.trim().is_empty() {
            return Err(ConnectorError::Config(
                "ssf.key_id is empty: receivers find the signing key by it".into(),
            ));
        }
        if issuer.trim().is_empty() {
            return Err(ConnectorError::Config(
                "ssf.issuer is empty: receivers check every SET's iss against it".into(),
            ));
        }
        // jsonwebtoken's errors name the key's form, never its bytes.
        let key = EncodingKey::from_ed_pem(pem.expose().as_bytes()).map_err(|e| {
            ConnectorError::Config(format!(
                "the SSF signing key is not an Ed25519 private key in PKCS#8 PEM \
                 (make one with `openssl genpkey -algorithm ed25519`): {e}"
            ))
        })?;
        let mut public = Jwk::from_encoding_key(&key, SET_ALGORITHM).map_err(|e| {
            ConnectorError::Config(format!(
                "cannot derive the public key of the SSF signing key: {e}"
            ))
        })?;
        public.common.key_id = Some(key_id.clone());
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(SetSigner {
            key,
            key_id,
            issuer,
            public,
        })
    }

    /// The issuer every SET names.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key id every SET's header names.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key as a JWK Set (RFC 7517): what receivers fetch from the transmitter's
    /// `jwks_uri` or pin in their configuration.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.public.clone()],
        }
    }

    /// Signs `signal` for the receiver known as `audience`, issued at `issued_at`, with a
    /// fresh random `jti`.
    pub fn sign(
        &self,
        signal: &Signal,
        audience: &str,
        issued_at: Timestamp,
    ) -> Result<SignedSet, ConnectorError> {
        self.sign_as(signal, audience, issued_at, None)
    }

    /// Signs `signal` as [`SetSigner::sign`] does, under `jti` when one is given: the same
    /// event sent again to a receiver that may have taken it already (its answer was lost)
    /// keeps its `jti`, so that the receiver can tell it is one event, not two.
    pub fn sign_as(
        &self,
        signal: &Signal,
        audience: &str,
        issued_at: Timestamp,
        jti: Option<&str>,
    ) -> Result<SignedSet, ConnectorError> {
        signal.subject.check().map_err(|reason| {
            ConnectorError::Config(format!("cannot sign a SET about this subject: {reason}"))
        })?;
        if audience.trim().is_empty() {
            return Err(ConnectorError::Config(
                "cannot sign a SET without an audience: give the receiver's audience".into(),
            ));
        }
        let jti = match jti {
            Some(jti) => jti.to_string(),
            None => new_jti()?,
        };
        let claims = Claims {
            iss: &self.issuer,
            iat: issued_at.as_second(),
            jti: &jti,
            aud: audience,
            txn: signal.txn.as_deref(),
            sub_id: &signal.subject,
            events: BTreeMap::from([(signal.event.uri(), signal.event.payload())]),
        };
        let mut header = Header::new(SET_ALGORITHM);
        header.typ = Some(SET_TYPE.into());
        header.kid = Some(self.key_id.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| {
            ConnectorError::Config(format!("cannot sign a SET with the SSF key: {e}"))
        })?;
        Ok(SignedSet {
            jti,
            audience: audience.to_string(),
            token,
        })
    }
}

/// A new Ed25519 signing key as PKCS#8 PEM, for [`SetSigner::from_pkcs8_pem`]: what
/// `openssl genpkey -algorithm ed25519` writes, made without it. Store it where the
/// configuration's `signing_key` points, readable by Evict alone.
pub fn generate_signing_key() -> Result<SecretString, ConnectorError> {
    use base64::Engine;
    // RFC 8410 §7: a PKCS#8 v1 PrivateKeyInfo for id-Ed25519 is this fixed prefix followed
    // by the 32-byte seed.
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let mut der = [0u8; 48];
    der[..16].copy_from_slice(&PREFIX);
    getrandom::fill(&mut der[16..]).map_err(|e| {
        ConnectorError::Config(format!(
            "the operating system gave no randomness for a signing key: {e}"
        ))
    })?;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    der.fill(0);
    let label = "PRIVATE KEY";
    let pem = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n");
    let mut body = body.into_bytes();
    body.fill(0);
    std::hint::black_box(&body);
    Ok(SecretString::new(pem))
}

/// 128 random bits, hex: unique without coordination between Evict instances.
fn new_jti() -> Result<String, ConnectorError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        ConnectorError::Config(format!(
            "the operating system gave no randomness for a SET id: {e}"
        ))
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Why a SET was refused, with the RFC 8935 §2.4 error code a push endpoint answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetRejected {
    /// Not a SET, or not one SSF allows (`invalid_request`).
    #[error("not an acceptable SET: {0}")]
    Malformed(String),
    /// Not signed by a key the receiver trusts (`invalid_key`).
    #[error("the SET's signature or key is not acceptable: {0}")]
    Key(String),
    /// From an issuer the receiver does not expect (`invalid_issuer`).
    #[error("the SET's issuer is not the expected one: {0}")]
    Issuer(String),
    /// Addressed to another receiver (`invalid_audience`).
    #[error("the SET is addressed to another receiver: {0}")]
    Audience(String),
}

impl SetRejected {
    /// The RFC 8935 §2.4 `err` code.
    pub fn code(&self) -> &'static str {
        match self {
            SetRejected::Malformed(_) => "invalid_request",
            SetRejected::Key(_) => "invalid_key",
            SetRejected::Issuer(_) => "invalid_issuer",
            SetRejected::Audience(_) => "invalid_audience",
        }
    }
}

/// A SET that passed [`verify_set`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedSet {
    /// Its unique id (the caller refuses one it has seen: a replay).
    pub jti: String,
    /// When it was issued, in seconds since the epoch.
    pub iat: i64,
    /// The transaction it belongs to.
    pub txn: Option<String>,
    /// The subject (`sub_id`), as sent: other transmitters may use formats Evict does not.
    pub subject: Value,
    /// The event type URI.
    pub event_type: String,
    /// The event's members.
    pub event: Value,
}

/// Verifies a SET as an SSF receiver must: `typ` is `secevent+jwt`, `alg` is EdDSA, `kid`
/// names a key of `jwks` and the signature verifies with it, `iss` is `issuer`, `aud` is (or
/// contains) `audience`, `iat`, `jti`, `sub_id` and exactly one event are present, and there
/// is no `sub` and no `exp`. Replays (a `jti` seen before) are the caller's to refuse.
pub fn verify_set(
    token: &str,
    jwks: &JwkSet,
    issuer: &str,
    audience: &str,
) -> Result<VerifiedSet, SetRejected> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| SetRejected::Malformed(format!("no readable JOSE header: {e}")))?;
    if header.typ.as_deref() != Some(SET_TYPE) {
        return Err(SetRejected::Malformed(format!(
            "typ is {:?}, not \"{SET_TYPE}\"",
            header.typ
        )));
    }
    if header.alg != SET_ALGORITHM {
        return Err(SetRejected::Key(format!(
            "signed with {:?}, and only EdDSA is accepted",
            header.alg
        )));
    }
    let kid = header
        .kid
        .ok_or_else(|| SetRejected::Key("the header names no kid".into()))?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| SetRejected::Key(format!("no trusted key has kid '{kid}'")))?;
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|e| SetRejected::Key(format!("the trusted key '{kid}' is unusable: {e}")))?;
    let mut validation = Validation::new(SET_ALGORITHM);
    validation.validate_exp = false;
    validation.required_spec_claims = HashSet::from(["iss".to_string(), "aud".to_string()]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    let claims = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => {
                    SetRejected::Key(format!("the signature does not verify with key '{kid}'"))
                }
                ErrorKind::InvalidIssuer => {
                    SetRejected::Issuer(format!("expected iss \"{issuer}\""))
                }
                ErrorKind::InvalidAudience => {
                    SetRejected::Audience(format!("expected aud \"{audience}\""))
                }
                _ => SetRejected::Malformed(e.to_string()),
            }
        })?
        .claims;
    for forbidden in ["sub", "exp"] {
        if claims.contains_key(forbidden) {
            return Err(SetRejected::Malformed(format!(
                "an SSF SET carries no \"{forbidden}\" claim"
            )));
        }
    }
    let jti = match claims.get("jti") {
        Some(Value::String(jti)) if !jti.is_empty() => jti.clone(),
        _ => return Err(SetRejected::Malformed("no jti".into())),
    };
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| SetRejected::Malformed("no iat".into()))?;
    let txn = match claims.get("txn") {
        None => None,
        Some(Value::String(txn)) => Some(txn.clone()),
        Some(_) => return Err(SetRejected::Malformed("txn is not a string".into())),
    };
    let subject = match claims.get("sub_id") {
        Some(subject @ Value::Object(members))
            if members.get("format").is_some_and(Value::is_string) =>
        {
            subject.clone()
        }
        _ => {
            return Err(SetRejected::Malformed(
                "no sub_id subject identifier with a format".into(),
            ));
        }
    };
    let (event_type, event) = match claims.get("events") {
        Some(Value::Object(events)) if events.len() == 1 => {
            let (uri, event) = events.iter().next().ok_or_else(|| {
                SetRejected::Malformed("events is empty".into()) // unreachable: len is 1
            })?;
            if !event.is_object() {
                return Err(SetRejected::Malformed(format!(
                    "the event {uri} is not a JSON object"
                )));
            }
            (uri.clone(), event.clone())
        }
        Some(Value::Object(events)) => {
            return Err(SetRejected::Malformed(format!(
                "events holds {} events; an SSF SET holds one",
                events.len()
            )));
        }
        _ => return Err(SetRejected::Malformed("no events object".into())),
    };
    Ok(VerifiedSet {
        jti,
        iat,
        txn,
        subject,
        event_type,
        event,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use evict_model::{ActionKind, CredentialKind};
    use proptest::prelude::*;

    use super::*;
    use crate::provider::Target;
    use crate::ssf::event::{InitiatingEntity, Occasion, SecurityEvent, SubjectId};

    const ISSUER: &str = "https://evict.example.com";

    fn signer() -> SetSigner {
        SetSigner::from_pkcs8_pem(&generate_signing_key().unwrap(), "k1", ISSUER).unwrap()
    }

    fn signal() -> Signal {
        let occasion = Occasion {
            at: Timestamp::from_second(1_700_000_000).unwrap(),
            initiated_by: InitiatingEntity::Admin,
            reason: Some("incident ir-7".into()),
            compromised: true,
        };
        let event = SecurityEvent::for_action(
            &Target::credential(CredentialKind::AccessKey, "AKIAEXAMPLE0000001"),
            ActionKind::Revoke,
            &occasion,
        )
        .unwrap();
        Signal::new(SubjectId::opaque("u-1"), event).in_transaction("ir-7")
    }

    fn unverified_parts(token: &str) -> (Value, Value) {
        use base64::Engine;
        let decode = |part: &str| -> Value {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap();
            serde_json::from_slice(&bytes).unwrap()
        };
        let parts: Vec<_> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "a JWS in compact form");
        (decode(parts[0]), decode(parts[1]))
    }

    #[test]
    fn a_set_is_typed_signed_with_eddsa_and_names_its_key() {
        let set = signer().sign(&signal(), "rp", Timestamp::now()).unwrap();
        let (header, _) = unverified_parts(&set.token);
        assert_eq!(header["typ"], "secevent+jwt");
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], "k1");
        assert!(
            !format!("{set:?}").contains(&set.token),
            "Debug leaves the token out"
        );
    }

    #[test]
    fn claims_hold_one_event_and_a_sub_id_and_never_sub_or_exp() {
        let set = signer()
            .sign(
                &signal(),
                "rp",
                Timestamp::from_second(1_800_000_000).unwrap(),
            )
            .unwrap();
        let (_, claims) = unverified_parts(&set.token);
        let claims = claims.as_object().unwrap();
        assert!(!claims.contains_key("sub"));
        assert!(!claims.contains_key("exp"));
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], "rp");
        assert_eq!(claims["iat"], 1_800_000_000);
        assert_eq!(claims["jti"], set.jti.as_str());
        assert_eq!(claims["txn"], "ir-7");
        assert_eq!(
            claims["sub_id"],
            serde_json::json!({"format": "opaque", "id": "u-1"})
        );
        let events = claims["events"].as_object().unwrap();
        assert_eq!(events.len(), 1);
        let change = &events[crate::ssf::event::CREDENTIAL_CHANGE];
        assert_eq!(change["change_type"], "revoke");
        assert_eq!(change["credential_type"], "access_key");
    }

    #[test]
    fn every_set_has_its_own_jti() {
        let signer = signer();
        let signal = signal();
        let jtis: HashSet<String> = (0..2000)
            .map(|_| signer.sign(&signal, "rp", Timestamp::now()).unwrap().jti)
            .collect();
        assert_eq!(jtis.len(), 2000);
        assert!(jtis.iter().all(|j| j.len() == 32));
    }

    #[test]
    fn a_bad_subject_or_key_is_refused_before_anything_is_signed() {
        let mut bad = signal();
        bad.subject = SubjectId::opaque("");
        assert!(signer().sign(&bad, "rp", Timestamp::now()).is_err());
        let not_a_key = SecretString::new("not a key".into());
        let err = SetSigner::from_pkcs8_pem(&not_a_key, "k1", ISSUER)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Ed25519") && !err.contains("not a key"),
            "{err}"
        );
        assert!(SetSigner::from_pkcs8_pem(&generate_signing_key().unwrap(), " ", ISSUER).is_err());
    }

    #[test]
    fn the_receiver_side_checks_key_issuer_audience_and_shape() {
        let signer = signer();
        let set = signer.sign(&signal(), "rp", Timestamp::now()).unwrap();
        let verified = verify_set(&set.token, &signer.jwks(), ISSUER, "rp").unwrap();
        assert_eq!(verified.jti, set.jti);
        assert_eq!(verified.event_type, crate::ssf::event::CREDENTIAL_CHANGE);
        assert_eq!(verified.txn.as_deref(), Some("ir-7"));

        let stranger = SetSigner::from_pkcs8_pem(&generate_signing_key().unwrap(), "k1", ISSUER)
            .unwrap()
            .sign(&signal(), "rp", Timestamp::now())
            .unwrap();
        let refused = verify_set(&stranger.token, &signer.jwks(), ISSUER, "rp").unwrap_err();
        assert_eq!(refused.code(), "invalid_key", "{refused}");

        let other_kid =
            SetSigner::from_pkcs8_pem(&generate_signing_key().unwrap(), "k2", ISSUER).unwrap();
        let unknown = other_kid.sign(&signal(), "rp", Timestamp::now()).unwrap();
        assert_eq!(
            verify_set(&unknown.token, &signer.jwks(), ISSUER, "rp")
                .unwrap_err()
                .code(),
            "invalid_key"
        );
        assert_eq!(
            verify_set(&set.token, &signer.jwks(), "https://other.example", "rp")
                .unwrap_err()
                .code(),
            "invalid_issuer"
        );
        assert_eq!(
            verify_set(&set.token, &signer.jwks(), ISSUER, "someone-else")
                .unwrap_err()
                .code(),
            "invalid_audience"
        );

        // A token signed with the right key but shaped as an ID token is still refused.
        let mut header = Header::new(SET_ALGORITHM);
        header.typ = Some(SET_TYPE.into());
        header.kid = Some("k1".into());
        let id_token_like = serde_json::json!({
            "iss": ISSUER, "aud": "rp", "iat": 1, "jti": "x", "sub": "u-1",
            "sub_id": {"format": "opaque", "id": "u-1"},
            "events": {crate::ssf::event::SESSION_REVOKED: {}},
        });
        let token = jsonwebtoken::encode(&header, &id_token_like, &signer.key).unwrap();
        let refused = verify_set(&token, &signer.jwks(), ISSUER, "rp").unwrap_err();
        assert_eq!(refused.code(), "invalid_request");
        assert!(refused.to_string().contains("\"sub\""), "{refused}");

        header.typ = Some("JWT".into());
        let plain_jwt = jsonwebtoken::encode(&header, &id_token_like, &signer.key).unwrap();
        assert!(
            verify_set(&plain_jwt, &signer.jwks(), ISSUER, "rp")
                .unwrap_err()
                .to_string()
                .contains("typ")
        );
    }

    #[test]
    fn the_jwks_is_the_public_half_only() {
        let signer = signer();
        let jwks = serde_json::to_value(signer.jwks()).unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert_eq!(key["kid"], "k1");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "EdDSA");
        assert!(key.get("d").is_none(), "no private part: {key}");
        assert_eq!(key["x"].as_str().unwrap().len(), 43, "32 bytes, base64url");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn what_we_sign_verifies_and_any_flipped_byte_does_not(
            subject in "[a-z0-9@._-]{1,40}",
            txn in proptest::option::of("[ -~]{0,40}"),
            audience in "[a-z0-9:/._-]{1,40}",
            flip_at in any::<prop::sample::Index>(),
            flip_bit in 0u8..8,
        ) {
            let signer = signer();
            let mut signal = signal();
            signal.subject = SubjectId::opaque(subject);
            signal.txn = txn;
            let set = signer.sign(&signal, &audience, Timestamp::now()).unwrap();
            let verified = verify_set(&set.token, &signer.jwks(), ISSUER, &audience);
            prop_assert!(verified.is_ok(), "{verified:?}");

            let mut bytes = set.token.clone().into_bytes();
            let at = flip_at.index(bytes.len());
            bytes[at] ^= 1 << flip_bit;
            // A flip may leave invalid UTF-8, which is not a token at all.
            if let Ok(tampered) = String::from_utf8(bytes) {
                prop_assert!(
                    verify_set(&tampered, &signer.jwks(), ISSUER, &audience).is_err(),
                    "a token changed at byte {at} still verifies"
                );
            }
        }
    }
}
