//! What the secret itself says about how long it lives: a JWT's `exp`, a certificate's
//! `notAfter`, or what its rule knows about the format.

use evict_model::Persistence;
use jiff::Timestamp;

use crate::rules::LifetimeSource;
use base64::Engine;

use crate::validate::{jwt_parts, pem_body};

/// The persistence class of a secret found by a rule with `source`, judged at `now`.
pub fn persistence(source: LifetimeSource, secret: &[u8], now: Timestamp) -> Persistence {
    let bounded = |at: Timestamp| {
        if at <= now {
            Persistence::Expired { at }
        } else {
            Persistence::Expires { at }
        }
    };
    match source {
        LifetimeSource::Unbounded => Persistence::Persistent,
        LifetimeSource::Temporary => Persistence::Temporary,
        LifetimeSource::ServerSideExpiry => Persistence::ServerSideExpiry,
        LifetimeSource::Unknown => Persistence::Unknown,
        LifetimeSource::JwtExp => match jwt_parts(secret) {
            None => Persistence::Unknown,
            Some((_, payload)) => match payload.get("exp") {
                // No `exp`: the token is valid until its signing key changes.
                None => Persistence::Persistent,
                Some(exp) => exp
                    .as_i64()
                    .or_else(|| exp.as_f64().map(|f| f as i64))
                    .and_then(|secs| Timestamp::from_second(secs).ok())
                    .map_or(Persistence::Unknown, bounded),
            },
        },
        LifetimeSource::Certificate => certificate_der(secret)
            .and_then(|der| certificate_not_after(&der))
            .map_or(Persistence::Unknown, bounded),
    }
}

/// The DER of a certificate given as PEM, or as base64 of a PEM (kubeconfig
/// `client-certificate-data`).
fn certificate_der(secret: &[u8]) -> Option<Vec<u8>> {
    if secret.starts_with(b"-----") {
        return pem_body(secret);
    }
    let pem = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_ascii())
        .ok()?;
    pem.starts_with(b"-----").then(|| pem_body(&pem)).flatten()
}

/// One DER element: (tag, contents, rest).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let octets = usize::from(first & 0x7f);
        if octets == 0 || octets > 4 || rest.len() < octets {
            return None;
        }
        let len = rest[..octets]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[octets..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// `tbsCertificate.validity.notAfter` of an X.509 certificate in DER.
pub(crate) fn certificate_not_after(der: &[u8]) -> Option<Timestamp> {
    const SEQUENCE: u8 = 0x30;
    let (tag, certificate, _) = der_element(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = der_element(certificate)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    let (tag, _, after) = der_element(rest)?;
    // [0] EXPLICIT version is optional; skip it when present.
    if tag == 0xa0 {
        rest = after;
    }
    // serialNumber, signature algorithm, issuer.
    for _ in 0..3 {
        rest = der_element(rest)?.2;
    }
    let (tag, validity, _) = der_element(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let (_, _, after_not_before) = der_element(validity)?;
    let (tag, not_after, _) = der_element(after_not_before)?;
    let text = std::str::from_utf8(not_after).ok()?;
    let full = match tag {
        // UTCTime: YYMMDDHHMMSSZ, years 50..99 are 19xx (RFC 5280 4.1.2.5.1).
        0x17 if text.len() == 13 => {
            let year: u32 = text[..2].parse().ok()?;
            let century = if year >= 50 { "19" } else { "20" };
            format!("{century}{text}")
        }
        0x18 if text.len() == 15 => text.to_string(),
        _ => return None,
    };
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    );
    iso.parse().ok()
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn jwt(payload: &str) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(payload.as_bytes())
        )
    }

    #[test]
    fn jwt_exp_decides_the_class() {
        let now: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let future = jwt(r#"{"exp":1893456000}"#);
        let past = jwt(r#"{"exp":1577836800}"#);
        let forever = jwt(r#"{"sub":"svc"}"#);
        assert!(matches!(
            persistence(LifetimeSource::JwtExp, future.as_bytes(), now),
            Persistence::Expires { .. }
        ));
        assert!(matches!(
            persistence(LifetimeSource::JwtExp, past.as_bytes(), now),
            Persistence::Expired { .. }
        ));
        assert_eq!(
            persistence(LifetimeSource::JwtExp, forever.as_bytes(), now),
            Persistence::Persistent
        );
        assert_eq!(
            persistence(LifetimeSource::JwtExp, b"not.a.jwt", now),
            Persistence::Unknown
        );
    }

    #[test]
    fn reads_not_after_from_a_minimal_certificate() {
        // SEQUENCE { SEQUENCE { [0]{INTEGER 2}, INTEGER 1, SEQUENCE{}, SEQUENCE{},
        //   SEQUENCE { UTCTime 250101000000Z, GeneralizedTime 20300101000000Z } } }
        let validity: Vec<u8> = [
            &[0x17, 13][..],
            b"250101000000Z",
            &[0x18, 15][..],
            b"20300101000000Z",
        ]
        .concat();
        let mut tbs = vec![0xa0, 3, 0x02, 1, 2, 0x02, 1, 1, 0x30, 0, 0x30, 0, 0x30];
        tbs.push(validity.len() as u8);
        tbs.extend(&validity);
        let mut cert = vec![0x30, tbs.len() as u8];
        cert.extend(&tbs);
        let mut der = vec![0x30, cert.len() as u8];
        der.extend(&cert);
        assert_eq!(
            certificate_not_after(&der),
            Some("2030-01-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(certificate_not_after(&der[..10]), None);
    }
}
