//! Text forms shared by the store and the importers.

use jiff::Timestamp;

/// The stored form of a time: RFC 3339 UTC with whole seconds, so text order is time order.
pub(crate) fn time_text(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(crate) fn opt_time_text(t: Option<Timestamp>) -> Option<String> {
    t.map(time_text)
}

/// A value quoted in an error message: short values as they are, long ones redacted, since a
/// misplaced column can put a secret where a date was expected.
pub(crate) fn shown_value(value: &str) -> String {
    if value.chars().count() <= 32 {
        format!("'{value}'")
    } else {
        format!(
            "'{}' ({} chars)",
            evict_model::redacted_preview(value),
            value.chars().count()
        )
    }
}
