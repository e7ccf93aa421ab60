//! Closed vocabularies (kinds, statuses, tiers) share one text form: snake_case, the same in
//! JSON, in the store and on the command line.

/// A word that is not in one of the model's closed vocabularies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a known {vocabulary}; expected one of: {expected}")]
pub struct UnknownValue {
    /// Which vocabulary was asked, e.g. "credential kind".
    pub vocabulary: &'static str,
    /// The rejected text.
    pub value: String,
    /// The accepted words, comma separated.
    pub expected: String,
}

/// Declares a closed vocabulary: the enum, its snake_case text form, `FromStr`, `Display`,
/// and serde through that same text form.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text form used in JSON, the store and the command line.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::vocabulary::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::vocabulary::UnknownValue {
                        vocabulary: $what,
                        value: s.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}
pub(crate) use vocabulary;
