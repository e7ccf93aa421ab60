//! Parsing of the small values importers meet: times, booleans, vocabulary words.

use jiff::Timestamp;

use crate::text::shown_value;

/// A time in RFC 3339 / ISO 8601 (`2024-01-31T09:15:00Z`, `…+00:00`) or a bare date
/// (`2024-01-31`, read as midnight UTC), truncated to whole seconds.
pub(crate) fn parse_time(column: &str, value: &str) -> Result<Timestamp, String> {
    let value = value.trim();
    match evict_model::parse_time_or_date(value) {
        Some(t) => Ok(Timestamp::from_second(t.as_second()).unwrap_or(t)),
        None => Err(format!(
            "column {column}: {} is not an ISO 8601 time (expected e.g. 2024-01-31T09:15:00+00:00 or 2024-01-31)",
            shown_value(value)
        )),
    }
}

/// `true` or `false`, any case.
pub(crate) fn parse_bool(column: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!(
            "column {column}: expected true or false, found {}",
            shown_value(value)
        )),
    }
}

/// A word of one of the model's vocabularies.
pub(crate) fn parse_word<T>(column: &str, value: &str) -> Result<T, String>
where
    T: std::str::FromStr<Err = evict_model::UnknownValue>,
{
    value.parse().map_err(|e: evict_model::UnknownValue| {
        format!(
            "column {column}: {} is not a known {}; expected one of: {}",
            shown_value(value),
            e.vocabulary,
            e.expected
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_the_forms_seen_in_the_wild() {
        assert_eq!(
            parse_time("t", "2014-10-07T15:16:00+00:00")
                .unwrap()
                .to_string(),
            "2014-10-07T15:16:00Z"
        );
        assert_eq!(
            parse_time("t", "2014-10-07T15:16:00.250Z")
                .unwrap()
                .to_string(),
            "2014-10-07T15:16:00Z"
        );
        assert_eq!(
            parse_time("t", "2014-10-07").unwrap().to_string(),
            "2014-10-07T00:00:00Z"
        );
        let err = parse_time("password_last_used", "07/10/2014").unwrap_err();
        assert!(
            err.contains("password_last_used") && err.contains("'07/10/2014'"),
            "{err}"
        );
    }

    #[test]
    fn booleans_are_strict() {
        assert!(parse_bool("b", "TRUE").unwrap());
        assert!(!parse_bool("b", "false").unwrap());
        assert!(
            parse_bool("mfa_active", "yes")
                .unwrap_err()
                .contains("expected true or false, found 'yes'")
        );
    }
}
