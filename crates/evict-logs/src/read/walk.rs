//! Which files of the given paths are logs: directories are walked recursively in sorted
//! order, so a run over the same tree always reads the same files in the same order.

use std::path::PathBuf;

use super::{ReadProblem, ReadSummary, UNREADABLE};

/// File name endings read when walking a directory (compared case-insensitively). A file
/// named on the command line is read whatever its name.
pub const LOG_EXTENSIONS: &[&str] = &[
    ".json",
    ".jsonl",
    ".ndjson",
    ".log",
    ".json.gz",
    ".jsonl.gz",
    ".gz",
];

/// Category of a file skipped in a directory because of its name.
pub const NOT_A_LOG_NAME: &str = "not a log file name (.json, .jsonl, .ndjson, .log, .gz)";
/// Category of a CloudTrail digest file (a signature chain, not events).
pub const DIGEST: &str = "CloudTrail digest file";

/// The log files under `paths`, in a deterministic order, for reading (in parallel if the
/// caller likes). Paths that do not exist or cannot be listed are reported in the summary, and
/// files skipped by name are counted there; merge it into the reading summary.
pub fn input_files(paths: &[PathBuf]) -> (Vec<PathBuf>, ReadSummary) {
    let mut files = Vec::new();
    let mut summary = ReadSummary::default();
    for root in paths {
        let shown = root.display().to_string();
        let metadata = match std::fs::metadata(root) {
            Ok(m) => m,
            Err(e) => {
                summary.problem(UNREADABLE, problem(shown, format!("unreadable: {e}")));
                continue;
            }
        };
        if !metadata.is_dir() {
            files.push(root.clone());
            continue;
        }
        let mut walk = ignore::WalkBuilder::new(root);
        walk.standard_filters(false)
            .hidden(false)
            .follow_links(false)
            .sort_by_file_name(|a, b| a.cmp(b));
        for entry in walk.build() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let reason = format!("unreadable: {e}");
                    summary.problem(UNREADABLE, problem(shown.clone(), reason));
                    continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let path = entry.into_path();
            if is_digest(&path) {
                summary.count(DIGEST);
            } else if has_log_name(&path) {
                files.push(path);
            } else {
                summary.count(NOT_A_LOG_NAME);
            }
        }
    }
    (files, summary)
}

fn problem(file: String, reason: String) -> ReadProblem {
    ReadProblem {
        file,
        offset: None,
        line: None,
        reason,
    }
}

fn has_log_name(path: &std::path::Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    LOG_EXTENSIONS.iter().any(|ext| name.ends_with(ext))
}

/// CloudTrail writes digest files next to the logs (`…/CloudTrail-Digest/…`,
/// `…_CloudTrail-Digest_…json.gz`).
fn is_digest(path: &std::path::Path) -> bool {
    path.components().any(|c| {
        c.as_os_str()
            .to_str()
            .is_some_and(|s| s.contains("CloudTrail-Digest"))
    })
}
