//! Synthetic secrets in real formats, generated from a seed at test time, so no token-shaped
//! literal ever sits in the repository. Each comes with the line to plant and the plaintext a
//! test must never find in any output.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::Rng;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE32_UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A planted secret: the text to write into a file, and the plaintext inside it.
#[derive(Debug, Clone)]
pub struct PlantedSecret {
    /// What it is, e.g. `github.pat.classic`; the id of the built-in rule expected to find it.
    pub rule: &'static str,
    /// One or more lines containing the secret, as a developer would paste them.
    pub text: String,
    /// The secret itself (what must never be printed or stored).
    pub secret: String,
    /// A non-secret provider id that goes with it (an AWS access key id), if any.
    pub native_id: Option<String>,
}

fn pick(rng: &mut Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| char::from(alphabet[rng.below(alphabet.len() as u64) as usize]))
        .collect()
}

fn base62_fixed(mut value: u32, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(digits).unwrap_or_default()
}

/// `prefix` + 30 random base62 + the 6-character base62 CRC32 of them (GitHub, npm).
pub fn checksummed_token(rng: &mut Rng, prefix: &str) -> String {
    let random = pick(rng, BASE62, 30);
    let checksum = base62_fixed(crc32fast::hash(random.as_bytes()), 6);
    format!("{prefix}{random}{checksum}")
}

/// A GitHub classic personal access token in a config line.
pub fn github_classic(rng: &mut Rng) -> PlantedSecret {
    let secret = checksummed_token(rng, "ghp_");
    PlantedSecret {
        rule: "github.pat.classic",
        text: format!("GITHUB_TOKEN={secret}"),
        secret,
        native_id: None,
    }
}

/// An AWS access key id with its secret access key two lines apart, as in a credentials file.
pub fn aws_key_pair(rng: &mut Rng) -> PlantedSecret {
    let id = format!("AKIA{}", pick(rng, BASE32_UPPER, 16));
    let secret = pick(rng, BASE64_CHARS, 40);
    PlantedSecret {
        rule: "aws.secret_access_key",
        text: format!(
            "[default]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\nregion = eu-west-1"
        ),
        secret,
        native_id: Some(id),
    }
}

/// A Slack bot token.
pub fn slack_bot(rng: &mut Rng) -> PlantedSecret {
    let secret = format!(
        "xoxb-{}-{}-{}",
        rng.range(100_000_000_000, 999_999_999_999),
        rng.range(100_000_000_000, 999_999_999_999),
        pick(rng, BASE62, 24)
    );
    PlantedSecret {
        rule: "slack.bot_token",
        text: format!("slack_token: \"{secret}\""),
        secret,
        native_id: None,
    }
}

/// A Stripe live secret key.
pub fn stripe_live(rng: &mut Rng) -> PlantedSecret {
    let secret = format!("sk_live_{}", pick(rng, BASE62, 99));
    PlantedSecret {
        rule: "stripe.secret_key.live",
        text: format!("STRIPE_KEY = '{secret}'"),
        secret,
        native_id: None,
    }
}

/// An unencrypted RSA private key in PEM.
pub fn rsa_private_key(rng: &mut Rng) -> PlantedSecret {
    let der: Vec<u8> = (0..1190).map(|_| rng.below(256) as u8).collect();
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    let secret = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
        lines.join("\n")
    );
    PlantedSecret {
        rule: "private_key.rsa",
        text: secret.clone(),
        secret,
        native_id: None,
    }
}

/// A signed JWT; `exp` (Unix seconds) when given, none otherwise (a persistent token).
pub fn jwt(rng: &mut Rng, exp: Option<i64>) -> PlantedSecret {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = match exp {
        Some(exp) => format!(r#"{{"sub":"svc-{}","exp":{exp}}}"#, rng.below(10_000)),
        None => format!(r#"{{"sub":"svc-{}","iat":1767225600}}"#, rng.below(10_000)),
    };
    let payload = URL_SAFE_NO_PAD.encode(claims.as_bytes());
    let signature =
        URL_SAFE_NO_PAD.encode((0..32).map(|_| rng.below(256) as u8).collect::<Vec<u8>>());
    let secret = format!("{header}.{payload}.{signature}");
    PlantedSecret {
        rule: "jwt.token",
        text: format!("Authorization: Bearer {secret}"),
        secret,
        native_id: None,
    }
}

/// A PostgreSQL URL with a password.
pub fn postgres_url(rng: &mut Rng) -> PlantedSecret {
    let password = pick(rng, BASE62, 20);
    PlantedSecret {
        rule: "postgres.url",
        text: format!("DATABASE_URL=postgres://app_user:{password}@db.internal:5432/orders"),
        secret: password,
        native_id: None,
    }
}

/// A generic password assignment.
pub fn generic_password(rng: &mut Rng) -> PlantedSecret {
    let secret = format!("{}#{}", pick(rng, BASE62, 10), pick(rng, LOWER_ALNUM, 8));
    PlantedSecret {
        rule: "generic.password",
        text: format!("db_password = \"{secret}\""),
        secret,
        native_id: None,
    }
}

/// One of each kind above, for trees that need a mix.
pub fn assorted(rng: &mut Rng) -> Vec<PlantedSecret> {
    vec![
        github_classic(rng),
        aws_key_pair(rng),
        slack_bot(rng),
        stripe_live(rng),
        rsa_private_key(rng),
        jwt(rng, None),
        postgres_url(rng),
        generic_password(rng),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_deterministic_and_checksummed() {
        let a = github_classic(&mut Rng::new(1)).secret;
        let b = github_classic(&mut Rng::new(1)).secret;
        assert_eq!(a, b);
        assert_eq!(a.len(), 40);
        let random = &a[4..34];
        assert_eq!(
            &a[34..],
            base62_fixed(crc32fast::hash(random.as_bytes()), 6)
        );
    }
}
