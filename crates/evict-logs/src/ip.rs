//! Source addresses as logs write them, turned into IP addresses when they are ones.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IP address in a log's source field, or `None` when it is not one (`AWS Internal`,
/// `ec2.amazonaws.com`, empty). The raw text is kept separately by the caller.
///
/// Accepts IPv4, IPv6 (also in brackets), IPv4 with zero-padded octets (`075.050.255.67` is
/// 75.50.255.67: decimal, never octal), and IPv4-mapped IPv6 (`::ffff:10.0.0.1`), which becomes
/// the IPv4 address so it matches indicators written either way.
pub fn normalize_ip(raw: &str) -> Option<IpAddr> {
    let text = raw.trim();
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    if let Some(v4) = padded_ipv4(text) {
        return Some(IpAddr::V4(v4));
    }
    if let Some(rest) = strip_prefix_ignore_case(text, "::ffff:")
        && let Some(v4) = padded_ipv4(rest)
    {
        return Some(IpAddr::V4(v4));
    }
    let v6: Ipv6Addr = text.parse().ok()?;
    Some(match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    })
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Dotted-quad IPv4 where each octet is 1–3 decimal digits (leading zeros allowed).
fn padded_ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<String> {
        normalize_ip(text).map(|ip| ip.to_string())
    }

    #[test]
    fn addresses() {
        assert_eq!(ip("198.51.100.7").as_deref(), Some("198.51.100.7"));
        assert_eq!(ip(" 075.050.255.67 ").as_deref(), Some("75.50.255.67"));
        assert_eq!(ip("010.000.000.001").as_deref(), Some("10.0.0.1"));
        assert_eq!(ip("2001:db8::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(ip("[2001:db8::1]").as_deref(), Some("2001:db8::1"));
        assert_eq!(ip("::ffff:192.0.2.1").as_deref(), Some("192.0.2.1"));
        assert_eq!(ip("::FFFF:192.000.002.001").as_deref(), Some("192.0.2.1"));
        assert_eq!(ip("::ffff:c000:0201").as_deref(), Some("192.0.2.1"));
        assert_eq!(ip("::1").as_deref(), Some("::1"));
    }

    #[test]
    fn not_addresses() {
        for text in [
            "",
            "AWS Internal",
            "ec2.amazonaws.com",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.0004",
            "01.2.3.-4",
            "1.2.3.4:443",
            "::ffff:1.2.3",
        ] {
            assert_eq!(normalize_ip(text), None, "{text}");
        }
    }
}
