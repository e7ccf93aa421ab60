use serde::{Deserialize, Serialize};

/// Where a copy of a secret was seen. Locations carry no secret text, only where to look.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Location {
    /// A file on disk (or inside an archive, with `entry`).
    File {
        /// Path of the file.
        path: String,
        /// Path inside an archive, when the file is one.
        entry: Option<String>,
        /// 1-based line of the match.
        line: u64,
    },
    /// A blob in git history.
    Git {
        /// Repository path or URL.
        repo: String,
        /// Commit where the blob first appeared.
        commit: String,
        /// Path of the blob in that commit.
        path: String,
        /// 1-based line of the match.
        line: u64,
    },
    /// A message in a chat or ticket export.
    Message {
        /// The export file or folder.
        export: String,
        /// Channel, conversation or ticket.
        channel: String,
        /// Message id or timestamp.
        message: String,
    },
}
