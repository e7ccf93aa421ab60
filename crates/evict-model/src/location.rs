use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a copy of a secret was seen. Locations carry no secret text, only where to look.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Location {
    /// A file on disk (or inside an archive, with `entry`).
    File {
        /// Path of the file.
        path: String,
        /// Path inside an archive (nested archives joined with `!`), when the file is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entry: Option<String>,
        /// 1-based line of the match.
        line: u64,
        /// 1-based byte column of the match.
        column: u64,
    },
    /// A blob in git history.
    Git {
        /// Repository path.
        repo: String,
        /// Commit where the blob first appeared.
        commit: String,
        /// Author of that commit, `Name <email>`.
        author: String,
        /// Commit time.
        date: Timestamp,
        /// Path of the blob in that commit.
        path: String,
        /// 1-based line of the match.
        line: u64,
        /// 1-based byte column of the match.
        column: u64,
        /// Later commits whose tree still carries the same blob.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also_in: Vec<String>,
    },
    /// A message in a chat or ticket export.
    Message {
        /// The export file or folder.
        export: String,
        /// Channel, conversation or ticket.
        channel: String,
        /// Message id or timestamp.
        message: String,
        /// Who posted it, when the export says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<String>,
        /// 1-based line within the message text.
        line: u64,
    },
}

impl Location {
    /// A one-line address a person can follow: `path:line:col`, `commit:path:line`, or
    /// `export#channel/message`.
    pub fn display(&self) -> String {
        match self {
            Location::File {
                path,
                entry,
                line,
                column,
            } => match entry {
                Some(entry) => format!("{path}!{entry}:{line}:{column}"),
                None => format!("{path}:{line}:{column}"),
            },
            Location::Git {
                commit,
                path,
                line,
                column,
                ..
            } => format!("{}:{path}:{line}:{column}", &commit[..commit.len().min(12)]),
            Location::Message {
                export,
                channel,
                message,
                line,
                ..
            } => format!("{export}#{channel}/{message}:{line}"),
        }
    }
}
