//! Git as a scan input: every blob of the history scanned once and located at the commit where
//! it first appeared (with the later commits that still carry it), and the staged changes of a
//! pre-commit hook.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use evict_model::Location;
use gix::ObjectId;

use crate::engine::{Detection, Scratch};
use crate::findings::InputKind;
use crate::git::{Commit, GitError, GitHistory, staged_blobs};
use crate::tree::{Sink, text_for_scanning};

/// Blobs larger than this are listed as skipped, not read.
const MAX_BLOB_BYTES: u64 = 256 << 20;

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

struct Hit {
    blob: ObjectId,
    commit: Commit,
    path: String,
    detection: Detection,
}

/// Scans the whole history of the repository at `repo` on `threads` threads.
pub fn scan_history(sink: Sink<'_>, repo: &Path, threads: usize) -> Result<(), GitError> {
    let history = GitHistory::open(repo)?;
    let shown = repo.display().to_string();
    if history.is_shallow() {
        sink.collector.skip(
            &shown,
            "shallow clone: commits beyond the shallow boundary were not scanned (fetch with --unshallow)",
        );
    }
    for problem in history.problems() {
        sink.collector
            .skip(object_name(&shown, problem.object), problem.to_string());
    }
    let hits: Mutex<Vec<Hit>> = Mutex::new(Vec::new());
    let problems = history.for_each_blob(threads, MAX_BLOB_BYTES, |origin, bytes| {
        if sink.ignore.ignores_path(origin.path) {
            sink.collector.count_ignored(1);
            return;
        }
        let text = match text_for_scanning(bytes) {
            Ok(text) => text,
            Err(reason) => {
                sink.collector.skip(
                    format!("{shown}@{}:{}", short(&origin.blob), origin.path),
                    reason,
                );
                return;
            }
        };
        sink.collector
            .count_input(InputKind::Blob, bytes.len() as u64);
        let detections = SCRATCH.with(|cell| {
            let mut slot = cell.borrow_mut();
            let scratch = slot.get_or_insert_with(|| sink.engine.scratch());
            sink.scan_detections(&text, text.len(), scratch)
        });
        if detections.is_empty() {
            return;
        }
        let mut hits = hits.lock().unwrap_or_else(|p| p.into_inner());
        hits.extend(detections.into_iter().map(|detection| Hit {
            blob: origin.blob,
            commit: origin.commit.clone(),
            path: origin.path.to_string(),
            detection,
        }));
    });
    for problem in problems {
        sink.collector
            .skip(object_name(&shown, problem.object), problem.to_string());
    }
    let hits = hits.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut blobs: Vec<ObjectId> = hits.iter().map(|h| h.blob).collect();
    blobs.sort_unstable();
    blobs.dedup();
    let carriers: HashMap<ObjectId, Vec<String>> = history
        .commits_carrying(&blobs)
        .into_iter()
        .map(|(blob, carriers)| {
            let mut commits: Vec<String> =
                carriers.into_iter().map(|c| c.commit.id.clone()).collect();
            commits.dedup();
            (blob, commits)
        })
        .collect();
    for hit in hits {
        // The same content at a second path of its first commit is not a later commit.
        let also_in = carriers
            .get(&hit.blob)
            .into_iter()
            .flatten()
            .filter(|commit| **commit != hit.commit.id)
            .cloned()
            .collect();
        let location = Location::Git {
            repo: shown.clone(),
            commit: hit.commit.id,
            author: hit.commit.author,
            date: hit.commit.time,
            path: hit.path,
            line: hit.detection.line,
            column: hit.detection.column,
            also_in,
        };
        sink.collector.add(sink.engine, hit.detection, location);
    }
    Ok(())
}

/// Pre-commit mode: scans what is staged in the repository at `repo` (added or changed files),
/// located as files of the work tree.
pub fn scan_staged(sink: Sink<'_>, repo: &Path) -> Result<(), GitError> {
    let mut scratch = sink.engine.scratch();
    for staged in staged_blobs(repo)? {
        if sink.ignore.ignores_path(&staged.path) {
            sink.collector.count_ignored(1);
            continue;
        }
        let text = match text_for_scanning(&staged.bytes) {
            Ok(text) => text,
            Err(reason) => {
                sink.collector.skip(&staged.path, reason);
                continue;
            }
        };
        sink.collector
            .count_input(InputKind::File, staged.bytes.len() as u64);
        sink.scan_bytes(&text, &mut scratch, |line, column| Location::File {
            path: staged.path.clone(),
            entry: None,
            line,
            column,
        });
    }
    Ok(())
}

fn short(id: &ObjectId) -> String {
    id.to_hex_with_len(12).to_string()
}

fn object_name(repo: &str, object: Option<ObjectId>) -> String {
    match object {
        Some(id) => format!("{repo}@{}", short(&id)),
        None => repo.to_string(),
    }
}
