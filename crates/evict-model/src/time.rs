//! The one way Evict reads a time a person or a file gave it.

use jiff::Timestamp;
use jiff::civil::Date;

/// RFC 3339 / ISO 8601 (`2024-01-31T09:15:00Z`, `…+00:00`), or a bare date (`2024-01-31`), read
/// as midnight UTC. Surrounding whitespace is ignored.
pub fn parse_time_or_date(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    text.parse::<Timestamp>().ok().or_else(|| {
        text.parse::<Date>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_dates() {
        assert_eq!(
            parse_time_or_date(" 2026-05-22 ").map(|t| t.to_string()),
            Some("2026-05-22T00:00:00Z".to_string())
        );
        assert_eq!(
            parse_time_or_date("2026-05-22T14:00:00+02:00").map(|t| t.to_string()),
            Some("2026-05-22T12:00:00Z".to_string())
        );
        assert_eq!(parse_time_or_date("yesterday"), None);
        assert_eq!(parse_time_or_date("22/05/2026"), None);
    }
}
