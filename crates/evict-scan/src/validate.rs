//! Checks a candidate secret must pass before it becomes a finding: checksums, structure,
//! entropy, and the placeholder filter that keeps documentation and templates out.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use crate::rules::ValidatorSpec;

/// One check on a candidate secret.
#[derive(Debug, Clone, PartialEq)]
pub enum Validator {
    /// GitHub's token checksum: the last 6 characters are the base62 CRC32 of the 30 before.
    GithubChecksum,
    /// npm's token checksum, the same scheme as GitHub's.
    NpmChecksum,
    /// A PyPI API token: a base64 macaroon (version 2) whose location is pypi.org.
    PypiMacaroon,
    /// Three base64url parts, the first a JSON header with `alg`.
    Jwt,
    /// A PEM block whose base64 body decodes.
    Pem,
    /// Minimum Shannon entropy in bits per character.
    Entropy(f64),
    /// Not a placeholder, template variable or documented example.
    NotPlaceholder,
}

impl Validator {
    pub(crate) fn from_spec(spec: &ValidatorSpec) -> Result<Validator, String> {
        Ok(match spec {
            ValidatorSpec::Entropy { entropy } if (0.0..=8.0).contains(entropy) => {
                Validator::Entropy(*entropy)
            }
            ValidatorSpec::Entropy { entropy } => {
                return Err(format!(
                    "entropy {entropy} is outside 0..8 bits per character"
                ));
            }
            ValidatorSpec::Named(name) => match name.as_str() {
                "github_checksum" => Validator::GithubChecksum,
                "npm_checksum" => Validator::NpmChecksum,
                "pypi_macaroon" => Validator::PypiMacaroon,
                "jwt" => Validator::Jwt,
                "pem" => Validator::Pem,
                "not_placeholder" => Validator::NotPlaceholder,
                other => {
                    return Err(format!(
                        "unknown validator '{other}'; known: github_checksum, npm_checksum, \
                         pypi_macaroon, jwt, pem, not_placeholder, entropy: N"
                    ));
                }
            },
        })
    }

    /// True when the secret passes.
    pub fn accepts(&self, secret: &[u8]) -> bool {
        match self {
            Validator::GithubChecksum | Validator::NpmChecksum => crc32_base62_checksum(secret),
            Validator::PypiMacaroon => pypi_macaroon(secret),
            Validator::Jwt => jwt_parts(secret).is_some(),
            Validator::Pem => pem_body(secret).is_some_and(|der| der.len() >= 32),
            Validator::Entropy(minimum) => shannon_entropy(secret) >= *minimum,
            Validator::NotPlaceholder => !is_placeholder(secret),
        }
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `<prefix>_<30 random base62><6 base62 of crc32(random)>`, as GitHub and npm tokens are.
fn crc32_base62_checksum(token: &[u8]) -> bool {
    let Some(underscore) = token.iter().rposition(|&b| b == b'_') else {
        return false;
    };
    let body = &token[underscore + 1..];
    if body.len() != 36 || !body.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (random, checksum) = body.split_at(30);
    base62_fixed(crc32fast::hash(random), 6).as_bytes() == checksum
}

/// `value` in base62, left-padded with '0' to `width` digits.
pub(crate) fn base62_fixed(mut value: u32, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(digits).unwrap_or_default()
}

fn pypi_macaroon(token: &[u8]) -> bool {
    let Some(body) = token.strip_prefix(b"pypi-") else {
        return false;
    };
    // The macaroon is long; its header (version, location) sits in the first bytes.
    let head = &body[..body.len().min(64) / 4 * 4];
    let Ok(bytes) = URL_SAFE_NO_PAD
        .decode(head)
        .or_else(|_| STANDARD_NO_PAD.decode(head))
    else {
        return false;
    };
    bytes.first() == Some(&2) && memchr::memmem::find(&bytes, b"pypi.org").is_some()
}

/// The decoded header and payload of a JWS compact token, if it is one.
pub(crate) fn jwt_parts(token: &[u8]) -> Option<(serde_json::Value, serde_json::Value)> {
    let text = std::str::from_utf8(token).ok()?;
    let mut parts = text.split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let decode = |part: &str| -> Option<serde_json::Value> {
        let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        value.is_object().then_some(value)
    };
    let header = decode(header)?;
    header.get("alg")?.as_str()?;
    Some((header, decode(payload)?))
}

/// The DER bytes of a PEM block (header lines such as `Proc-Type:` skipped).
pub(crate) fn pem_body(block: &[u8]) -> Option<Vec<u8>> {
    // Keys pasted into JSON or .env strings carry literal `\n` separators.
    let text = std::str::from_utf8(block)
        .ok()?
        .replace("\\r", "")
        .replace("\\n", "\n");
    let mut base64 = String::with_capacity(text.len());
    for line in text.lines().map(str::trim) {
        if line.starts_with("-----") || line.contains(':') || line.is_empty() {
            continue;
        }
        base64.extend(line.chars().filter(|c| !c.is_whitespace()));
    }
    let base64 = base64.trim_end_matches('=');
    STANDARD_NO_PAD.decode(base64).ok()
}

/// Shannon entropy of the bytes, in bits per byte.
pub fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// Words and shapes that mark a value as an example, a template or a variable, not a secret.
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "your_",
    "your-",
    "yourkey",
    "<your",
    "dummy",
    "sample",
    "redacted",
    "xxxx",
    "****",
    "....",
    "fake",
    "insert",
    "replace",
    "todo",
    "secret_here",
    "password_here",
    "token_here",
    "key_here",
    "notreal",
    "not_real",
];

/// Values that are code or configuration references rather than literals.
const REFERENCE_MARKERS: &[&str] = &[
    "${",
    "{{",
    "}}",
    "$(",
    "%(",
    "<%",
    "#{",
    "process.env",
    "os.environ",
    "getenv",
    "env(",
    "secrets.",
    "vault:",
    "arn:aws:secretsmanager",
];

/// True for `<YOUR_KEY>`, `${VAR}`, `{{ var }}`, `xxxx`, `changeme`, documented example keys,
/// one character repeated, and other values that only stand in for a secret.
pub fn is_placeholder(value: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(value) else {
        return false;
    };
    let lower = text.trim().to_ascii_lowercase();
    if lower.is_empty() {
        return true;
    }
    if PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w))
        || REFERENCE_MARKERS.iter().any(|m| lower.contains(m))
    {
        return true;
    }
    let first = lower.as_bytes()[0];
    if lower.bytes().all(|b| b == first) {
        return true;
    }
    // `<KEY>`, `$VAR`, `%VAR%`, `[token]`: a name standing where the value would be.
    let wrapped = |open: char, close: char| lower.starts_with(open) && lower.ends_with(close);
    if wrapped('<', '>')
        || wrapped('%', '%')
        || wrapped('[', ']')
        || wrapped('{', '}')
        || lower.starts_with('$')
    {
        return true;
    }
    // `webhook_secret`, `API_TOKEN`, `db-password`: a name in code, not a value.
    let trimmed = text.trim();
    let one_case = |upper: bool| {
        trimmed.bytes().all(|b| {
            b == b'_'
                || b == b'-'
                || if upper {
                    b.is_ascii_uppercase()
                } else {
                    b.is_ascii_lowercase()
                }
        })
    };
    let identifier = trimmed.contains(['_', '-']) && (one_case(false) || one_case(true));
    if identifier {
        return true;
    }
    matches!(
        lower.as_str(),
        "password"
            | "passwd"
            | "secret"
            | "token"
            | "null"
            | "none"
            | "true"
            | "false"
            | "test"
            | "admin"
            | "root"
            | "string"
            | "undefined"
            | "required"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github_like(prefix: &str, random: &str) -> String {
        format!(
            "{prefix}{random}{}",
            base62_fixed(crc32fast::hash(random.as_bytes()), 6)
        )
    }

    #[test]
    fn checksum_accepts_a_correct_token_and_rejects_a_changed_one() {
        let random = "a".repeat(15) + &"B".repeat(15);
        let token = github_like("ghp_", &random);
        assert!(Validator::GithubChecksum.accepts(token.as_bytes()));
        let mut broken = token.into_bytes();
        broken[10] = b'Z';
        assert!(!Validator::GithubChecksum.accepts(&broken));
        assert!(!Validator::GithubChecksum.accepts(b"ghp_short"));
    }

    #[test]
    fn base62_pads_to_width() {
        assert_eq!(base62_fixed(0, 6), "000000");
        assert_eq!(base62_fixed(61, 2), "0z");
        assert_eq!(base62_fixed(62, 2), "10");
    }

    #[test]
    fn placeholders_are_recognised() {
        for value in [
            "<YOUR_KEY>",
            "${GITHUB_TOKEN}",
            "{{ api_key }}",
            "xxxxxxxxxxxx",
            "changeme",
            "AKIAIOSFODNN7EXAMPLE",
            "$SECRET",
            "%API_KEY%",
            "aaaaaaaaaaaaaaaa",
            "os.environ['X']",
            "{password}",
            "webhook_secret",
            "MY_API_TOKEN",
        ] {
            assert!(
                is_placeholder(value.as_bytes()),
                "{value} should be a placeholder"
            );
        }
        for value in ["hT7#kq2Lx9!pQ", "s3cr3t-but-real-9f8a7b"] {
            assert!(
                !is_placeholder(value.as_bytes()),
                "{value} is not a placeholder"
            );
        }
    }

    #[test]
    fn pem_bodies_decode_with_real_or_escaped_line_breaks() {
        let body = base64::engine::general_purpose::STANDARD.encode([7u8; 48]);
        let real = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----");
        let escaped = real.replace('\n', "\\n");
        assert_eq!(pem_body(real.as_bytes()), Some(vec![7u8; 48]));
        assert_eq!(pem_body(escaped.as_bytes()), Some(vec![7u8; 48]));
        assert!(
            !Validator::Pem.accepts(b"-----BEGIN PRIVATE KEY-----\n%%%\n-----END PRIVATE KEY-----")
        );
    }

    #[test]
    fn entropy_of_uniform_and_repeated_bytes() {
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn jwt_needs_a_json_header_with_alg() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#);
        let token = format!("{header}.{payload}.c2lnbmF0dXJl");
        assert!(Validator::Jwt.accepts(token.as_bytes()));
        let no_alg = format!(
            "{}.{payload}.c2ln",
            URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT"}"#)
        );
        assert!(!Validator::Jwt.accepts(no_alg.as_bytes()));
        assert!(!Validator::Jwt.accepts(b"a.b.c"));
    }
}
