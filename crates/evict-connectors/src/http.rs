//! What the HTTP connectors (OAuth, SCIM) share: one client with deadlines, endpoints that
//! receive credentials only over TLS, bounded answers, and transport failures reported as
//! `Unreachable`.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Response, Url};

use crate::provider::ConnectorError;

/// The most of an answer a connector reads: a server that streams without end cannot exhaust
/// memory. A SCIM page of a hundred users is well under it.
const MAX_BODY: usize = 8 << 20;

/// The HTTP client of one connector: a deadline to connect and one for the whole exchange
/// (a hung provider must not hang a containment run), and no redirects — credentials go to
/// the configured endpoint or nowhere.
pub(crate) fn client(
    provider: &'static str,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> Result<reqwest::Client, ConnectorError> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("evict/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConnectorError::Config(format!("{provider}: cannot set up HTTP: {e}")))
}

/// Parses an endpoint Evict sends credentials to: `https://`, or `http://` on the loopback
/// interface only; never with a user or password in it (the error does not quote it then).
pub(crate) fn endpoint(
    provider: &'static str,
    key: &str,
    text: &str,
) -> Result<Url, ConnectorError> {
    let url = Url::parse(text.trim())
        .map_err(|e| ConnectorError::Config(format!("{provider}: {key} is not a URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConnectorError::Config(format!(
            "{provider}: {key} must not carry a user or password: give the secret by reference \
             ({{ env = \"VARIABLE\" }} or {{ file = \"PATH\" }})"
        )));
    }
    let loopback = url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(ConnectorError::Config(format!(
            "{provider}: {key} = {url} would send credentials in the clear: use https:// \
             (http:// is allowed on the loopback interface only)"
        ))),
        other => Err(ConnectorError::Config(format!(
            "{provider}: {key} = {url}: scheme {other} is not HTTP(S)"
        ))),
    }
}

/// A transport failure (refused, reset, timed out, TLS): the provider was not reached, or did
/// not finish answering. Retrying is safe for the idempotent acts this is used for.
pub(crate) fn unreachable(provider: &'static str, e: reqwest::Error) -> ConnectorError {
    ConnectorError::Unreachable {
        provider,
        reason: transport_failure(&e),
    }
}

/// Why a request got no answer, in words a responder can act on (DNS, TLS, refused, timed
/// out), followed by the error and its causes: reqwest's own words name only the URL, and the
/// cause is in the chain of sources.
pub(crate) fn transport_failure(e: &reqwest::Error) -> String {
    let causes = causes(e);
    let lower = causes.to_lowercase();
    let why = if e.is_timeout() {
        "no answer before the deadline"
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        "the provider's host name does not resolve (DNS): check the URL and the resolver"
    } else if [
        // rustls's words for a failed handshake.
        "certificate",
        "tls",
        "ssl",
        "handshake",
        "corrupt message",
        "alert",
        "peer is incompatible",
        "peer misbehaved",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        "the TLS handshake failed: check the URL's scheme and port, and that the provider's \
         certificate is valid for its name and issued by a trusted authority"
    } else if e.is_connect() {
        "the connection failed"
    } else {
        "the exchange failed"
    };
    format!("{why}: {causes}")
}

/// An error and its causes on one line, each cause once, control characters blanked.
pub(crate) fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Reads an answer's status and body, at most [`MAX_BODY`] bytes of it. An answer of 429 or
/// 5xx is `Throttled`, with the wait the provider asked for (`Retry-After`): busy or failing
/// for now, whatever was asked.
pub(crate) async fn read(
    provider: &'static str,
    mut response: Response,
) -> Result<(reqwest::StatusCode, Vec<u8>), ConnectorError> {
    let status = response.status();
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return Err(ConnectorError::Throttled {
            provider,
            reason: format!("HTTP {status}"),
            retry_after: retry_after(response.headers()),
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unreachable(provider, e))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ConnectorError::Provider {
                provider,
                what: "read an answer",
                reason: format!("the answer is larger than {MAX_BODY} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// The wait a `Retry-After` header asks for: seconds, or an HTTP-date (RFC 9110 §10.2.3).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // An HTTP-date (RFC 9110 §10.2.3): IMF-fixdate is RFC 2822's form with "GMT".
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// The start of an answer that is not the JSON expected, for an error message, with every
/// secret in `secrets` blotted out (a server may echo what it was sent).
pub(crate) fn snippet(body: &[u8], secrets: &[&str]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    scrub(&cut, secrets)
}

/// `text` with every non-empty secret of `secrets` replaced by `[redacted]`.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |t, s| t.replace(s, "[redacted]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_is_read_as_seconds_or_an_http_date() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(
            retry_after(&headers),
            Some(Duration::ZERO),
            "a date in the past"
        );
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(90);
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&later)
            .unwrap();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(80) && wait <= Duration::from_secs(90),
            "{wait:?}"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    async fn failure(url: &str) -> String {
        let client = client("x", Duration::from_secs(3), Duration::from_secs(5)).unwrap();
        let e = client.get(url).send().await.unwrap_err();
        let error = unreachable("x", e);
        assert!(error.retryable(), "{error}");
        error.to_string()
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_reported_as_dns() {
        // RFC 6761: .invalid never resolves.
        let said = failure("https://evict-provider.invalid/token").await;
        assert!(said.contains("(DNS)"), "{said}");
    }

    #[tokio::test]
    async fn a_server_that_does_not_speak_tls_is_reported_as_a_tls_failure() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let plain = std::thread::spawn(move || {
            use std::io::{Read, Write};
            if let Ok((mut stream, _)) = listener.accept() {
                let mut hello = [0u8; 512];
                let _ = stream.read(&mut hello);
                let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            }
        });
        let said = failure(&format!("https://127.0.0.1:{port}/token")).await;
        assert!(said.contains("TLS handshake failed"), "{said}");
        plain.join().unwrap();
    }

    #[test]
    fn credentials_go_over_tls_except_on_loopback() {
        assert!(endpoint("x", "k", "https://idp.example/token").is_ok());
        assert!(endpoint("x", "k", "http://127.0.0.1:8080/token").is_ok());
        assert!(endpoint("x", "k", "http://localhost/token").is_ok());
        assert!(endpoint("x", "k", "http://[::1]/token").is_ok());
        let clear = endpoint("x", "k", "http://idp.example/token").unwrap_err();
        assert!(clear.to_string().contains("https://"), "{clear}");
        let with_password = ["https://user", ":pw-in-url@idp.example/"].concat();
        let refused = endpoint("x", "k", &with_password).unwrap_err().to_string();
        assert!(!refused.contains("pw-in-url"), "{refused}");
        assert!(endpoint("x", "k", "ftp://idp.example/").is_err());
    }

    #[test]
    fn secrets_echoed_by_a_server_are_blotted_out() {
        assert_eq!(
            snippet(b"bad token abc123 here", &["abc123", ""]),
            "bad token [redacted] here"
        );
        assert!(snippet(&[b'x'; 1000], &[]).ends_with('…'));
    }
}
