//! Streaming importers: a reader thread parses the file into batches, a bounded channel
//! carries them, and the store writes each batch in one transaction with its journal entry.
//! Memory is bounded by the batch size and the channel depth, not by the file.
//!
//! A bad row is rejected with its line and reason and the rest is imported; a bad header or an
//! unreadable file stops the import before anything is written; batches already committed stay.

pub mod credential_report;
pub mod inventory_file;
pub mod records;
mod values;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use self::credential_report::ReportLayout;
use self::inventory_file::{CsvLayout, InventoryRecord};
use self::records::{RecordReader, split_csv};
use crate::{BatchOutcome, InventoryBatch, RejectedRow, Store, StoreError};

/// The longest record accepted; longer ones are rejected and skipped.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Source rows per batch (one transaction, one journal entry).
const ROWS_PER_BATCH: usize = 2000;
/// Batches parsed ahead of the writer.
const BATCHES_IN_FLIGHT: usize = 4;

/// Which importer to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportKind {
    /// The AWS IAM credential report CSV.
    AwsCredentialReport,
    /// Evict's generic inventory, CSV or JSON lines.
    Inventory,
}

impl ImportKind {
    /// The name used on the command line and in the journal.
    pub fn name(self) -> &'static str {
        match self {
            ImportKind::AwsCredentialReport => "aws-credential-report",
            ImportKind::Inventory => "inventory",
        }
    }
}

/// Receives progress and per-row problems while an import runs (the CLI draws and prints).
pub trait ImportObserver: Send + Sync {
    /// Bytes of the file parsed and written so far.
    fn progress(&self, _bytes: u64) {}
    /// A row was rejected.
    fn rejected(&self, _row: &RejectedRow) {}
    /// Something worth saying that did not stop the import.
    fn warning(&self, _message: &str) {}
}

/// An observer that ignores everything.
#[derive(Debug)]
pub struct Quiet;
impl ImportObserver for Quiet {}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    /// The file.
    pub file: String,
    /// Which importer.
    pub source: ImportKind,
    /// Source rows read (not counting the header or blank lines).
    pub rows: u64,
    /// Rows that produced records.
    pub accepted_rows: u64,
    /// Counts of records inserted / updated / unchanged, and rejected rows.
    pub inserted: u64,
    /// Records that changed.
    pub updated: u64,
    /// Records already stored as they are.
    pub unchanged: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Journal entries written.
    pub journal_entries: u64,
    /// Non-fatal warnings (header order, ignored columns).
    pub warnings: Vec<String>,
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The header (or the file as a whole) is not in the expected format.
    #[error("{path}:{line}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The store failed; batches committed before it remain.
    #[error("{path}: import stopped after {committed_rows} rows were committed: {source}")]
    Store {
        /// The file.
        path: PathBuf,
        /// Rows committed before the failure.
        committed_rows: u64,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

struct Parsed {
    batch: InventoryBatch,
    rejected: Vec<RejectedRow>,
    rows: u64,
    accepted: u64,
    bytes: u64,
}

enum Message {
    Warning(String),
    Batch(Parsed),
    Fatal(ImportError),
}

/// Imports one file into the store.
pub async fn import_file(
    store: &Store,
    kind: ImportKind,
    path: &Path,
    now: Timestamp,
    observer: &dyn ImportObserver,
) -> Result<ImportSummary, ImportError> {
    let file_err = |reason: String| ImportError::File {
        path: path.to_path_buf(),
        reason,
    };
    let file = File::open(path).map_err(|e| file_err(open_reason(&e)))?;
    let meta = file
        .metadata()
        .map_err(|e| file_err(format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return Err(file_err("is a directory; name the file to import".into()));
    }
    if meta.len() == 0 {
        return Err(file_err(format!(
            "is empty; expected {}",
            expected_content(kind)
        )));
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(BATCHES_IN_FLIGHT);
    let display = path.display().to_string();
    let parse_path = path.to_path_buf();
    let source = kind.name().to_string();
    let reader = tokio::task::spawn_blocking(move || {
        let reader = BufReader::with_capacity(256 * 1024, file);
        parse(kind, &parse_path, &source, reader, &tx);
    });

    let mut summary = ImportSummary {
        file: display,
        source: kind,
        rows: 0,
        accepted_rows: 0,
        inserted: 0,
        updated: 0,
        unchanged: 0,
        rejected: 0,
        journal_entries: 0,
        warnings: Vec::new(),
    };
    let mut fatal = None;
    while let Some(message) = rx.recv().await {
        match message {
            Message::Warning(w) => {
                observer.warning(&w);
                summary.warnings.push(w);
            }
            Message::Fatal(e) => {
                fatal = Some(e);
                break;
            }
            Message::Batch(parsed) => {
                let mut outcome = BatchOutcome::default();
                if !parsed.batch.is_empty() {
                    outcome =
                        store
                            .upsert_inventory(parsed.batch, now)
                            .await
                            .map_err(|source| ImportError::Store {
                                path: path.to_path_buf(),
                                committed_rows: summary.accepted_rows,
                                source,
                            })?;
                }
                let mut rejected = parsed.rejected;
                rejected.append(&mut outcome.rejected);
                rejected.sort_by_key(|r| r.line);
                for r in &rejected {
                    observer.rejected(r);
                }
                summary.rows += parsed.rows;
                summary.accepted_rows += parsed.accepted;
                summary.rejected += rejected.len() as u64;
                summary.inserted += outcome.inserted;
                summary.updated += outcome.updated;
                summary.unchanged += outcome.unchanged;
                summary.journal_entries += outcome.journal_entries;
                observer.progress(parsed.bytes);
            }
        }
    }
    drop(rx);
    let _ = reader.await;
    match fatal {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

fn open_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (evict needs read access)".into()
        }
        _ => format!("cannot open: {e}"),
    }
}

fn expected_content(kind: ImportKind) -> &'static str {
    match kind {
        ImportKind::AwsCredentialReport => {
            "the CSV of `aws iam get-credential-report` (base64-decoded Content), starting with its header"
        }
        ImportKind::Inventory => "CSV with a header or JSON lines (see docs/inventory-format.md)",
    }
}

/// The reader side: runs on a blocking thread and sends batches until the file ends or the
/// receiver goes away.
fn parse<R: Read>(
    kind: ImportKind,
    path: &Path,
    source: &str,
    reader: BufReader<R>,
    tx: &tokio::sync::mpsc::Sender<Message>,
) {
    let send = |m: Message| tx.blocking_send(m).is_ok();
    let mut reader = reader;
    let json_lines = kind == ImportKind::Inventory && looks_like_json(path, &mut reader);
    let mut records = RecordReader::new(reader, !json_lines, MAX_RECORD_BYTES);
    let fatal = |line: u64, reason: String| {
        Message::Fatal(ImportError::Format {
            path: path.to_path_buf(),
            line,
            reason,
        })
    };

    let mut fields_buf = Vec::new();
    let mut ends = Vec::new();
    enum Layout {
        Report(ReportLayout),
        Csv(CsvLayout),
        Json,
    }
    let layout = if json_lines {
        Layout::Json
    } else {
        let (line, header) = match records.next_record() {
            None => {
                send(Message::Fatal(ImportError::File {
                    path: path.to_path_buf(),
                    reason: format!("has no header; expected {}", expected_content(kind)),
                }));
                return;
            }
            Some((line, Err(e))) => {
                send(fatal(line, format!("cannot read the header: {e}")));
                return;
            }
            Some((line, Ok(record))) => {
                split_csv(record.bytes, &mut fields_buf, &mut ends);
                (line, field_strs(&fields_buf, &ends))
            }
        };
        let names = match header {
            Ok(names) => names,
            Err(reason) => {
                send(fatal(line, format!("header: {reason}")));
                return;
            }
        };
        match kind {
            ImportKind::AwsCredentialReport => match ReportLayout::from_header(&names) {
                Ok((layout, warnings)) => {
                    for w in warnings {
                        send(Message::Warning(format!("{}:{line}: {w}", path.display())));
                    }
                    Layout::Report(layout)
                }
                Err(reason) => {
                    send(fatal(line, reason));
                    return;
                }
            },
            ImportKind::Inventory => match CsvLayout::from_header(&names) {
                Ok(layout) => Layout::Csv(layout),
                Err(reason) => {
                    send(fatal(line, reason));
                    return;
                }
            },
        }
    };

    let new_parsed = || Parsed {
        batch: InventoryBatch {
            source: source.to_string(),
            file: path.display().to_string(),
            ..Default::default()
        },
        rejected: Vec::new(),
        rows: 0,
        accepted: 0,
        bytes: 0,
    };
    let mut parsed = new_parsed();
    while let Some((line, record)) = records.next_record() {
        parsed.rows += 1;
        let result: Result<(), String> = match record {
            Err(e) => Err(e.to_string()),
            Ok(record) => match &layout {
                Layout::Json => std::str::from_utf8(record.bytes)
                    .map_err(|e| format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()))
                    .and_then(inventory_file::parse_json_line)
                    .map(|r| push_record(&mut parsed.batch, line, r)),
                Layout::Report(layout) => {
                    split_csv(record.bytes, &mut fields_buf, &mut ends);
                    field_strs(&fields_buf, &ends)
                        .and_then(|f| layout.parse_row(&f))
                        .map(|(identity, credentials)| {
                            parsed.batch.identities.push((line, identity));
                            parsed
                                .batch
                                .credentials
                                .extend(credentials.into_iter().map(|c| (line, c)));
                        })
                }
                Layout::Csv(layout) => {
                    split_csv(record.bytes, &mut fields_buf, &mut ends);
                    field_strs(&fields_buf, &ends)
                        .and_then(|f| layout.parse_row(&f))
                        .map(|r| push_record(&mut parsed.batch, line, r))
                }
            },
        };
        match result {
            Ok(()) => parsed.accepted += 1,
            Err(reason) => parsed.rejected.push(RejectedRow { line, reason }),
        }
        if parsed.rows as usize >= ROWS_PER_BATCH {
            parsed.bytes = records.bytes_read();
            if !send(Message::Batch(std::mem::replace(&mut parsed, new_parsed()))) {
                return;
            }
        }
    }
    parsed.bytes = records.bytes_read();
    send(Message::Batch(parsed));
}

fn push_record(batch: &mut InventoryBatch, line: u64, record: InventoryRecord) {
    match record {
        InventoryRecord::Identity(i) => batch.identities.push((line, i)),
        InventoryRecord::Credential(c) => batch.credentials.push((line, c)),
    }
}

/// Splits the unescaped field bytes into strings, refusing invalid UTF-8 with the column.
fn field_strs<'a>(bytes: &'a [u8], ends: &[usize]) -> Result<Vec<&'a str>, String> {
    let mut start = 0;
    ends.iter()
        .enumerate()
        .map(|(i, &end)| {
            let field = &bytes[start..end];
            start = end;
            std::str::from_utf8(field).map_err(|e| {
                format!(
                    "field {} is not valid UTF-8 (at byte {} of the field)",
                    i + 1,
                    e.valid_up_to()
                )
            })
        })
        .collect()
}

/// JSON lines by extension, or by a first non-blank byte of `{` when the extension says nothing.
fn looks_like_json<R: Read>(path: &Path, reader: &mut BufReader<R>) -> bool {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("jsonl" | "ndjson" | "json") => true,
        Some("csv") => false,
        _ => reader
            .fill_buf()
            .map(|b| b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{'))
            .unwrap_or(false),
    }
}
