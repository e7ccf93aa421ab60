//! Streaming audit-log readers.
//!
//! A log file is read in large blocks (after gzip, detected by its magic bytes), split into
//! records by a byte-level scanner, and handed to the caller in batches: one buffer and the
//! span of each record in it, so memory stays bounded however large the file and records are
//! copied at most once. Three shapes are recognised from the bytes, whatever the file's name:
//!
//! - a `{"Records":[…]}` object (CloudTrail's S3 objects), whose array members are the records;
//! - a bare array `[{…},{…}]` (console and API exports);
//! - one object per line (JSON lines), or objects one after another (`jq` output).
//!
//! Bad input never stops the run: a record that is not an object, too large, or cut off is
//! skipped and reported with its offset, and a file that cannot be read is reported while the
//! other files are read.

mod split;
mod walk;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use evict_model::RawPointer;
use serde::{Deserialize, Serialize};

use crate::record::LazyRecord;
use split::{SplitSink, Splitter};

pub use walk::{DIGEST, LOG_EXTENSIONS, NOT_A_LOG_NAME, input_files};

/// Which audit log a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SourceKind {
    /// AWS CloudTrail (`--source cloudtrail`).
    #[serde(rename = "cloudtrail")]
    CloudTrail,
    /// Okta System Log (`--source okta`).
    #[serde(rename = "okta")]
    Okta,
    /// GitHub audit log (`--source github`).
    #[serde(rename = "github")]
    GitHub,
    /// Any other JSON records, read through a mapping file (`--source jsonl`).
    #[serde(rename = "jsonl")]
    JsonLines,
}

/// A `--source` value that names no log source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log source '{0}': use cloudtrail, okta, github or jsonl")]
pub struct UnknownSource(pub String);

impl SourceKind {
    /// Every source, in `--source` order.
    pub const ALL: [SourceKind; 4] = [
        SourceKind::CloudTrail,
        SourceKind::Okta,
        SourceKind::GitHub,
        SourceKind::JsonLines,
    ];

    /// The `--source` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::CloudTrail => "cloudtrail",
            SourceKind::Okta => "okta",
            SourceKind::GitHub => "github",
            SourceKind::JsonLines => "jsonl",
        }
    }

    /// Recognises a record's source by its fields: CloudTrail has `eventVersion` or
    /// `eventSource`; Okta has `eventType` with `published` or `uuid`; GitHub has `action`
    /// with `@timestamp`, `_document_id` or `actor`. `None` when it is none of them.
    pub fn detect(record: &LazyRecord<'_>) -> Option<SourceKind> {
        let has = |key: &str| record.get_key(key).is_some();
        if has("eventVersion") || has("eventSource") || has("Records") {
            Some(SourceKind::CloudTrail)
        } else if has("eventType") && (has("published") || has("uuid")) {
            Some(SourceKind::Okta)
        } else if has("action") && (has("@timestamp") || has("_document_id") || has("actor")) {
            Some(SourceKind::GitHub)
        } else {
            None
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceKind {
    type Err = UnknownSource;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cloudtrail" | "aws" => Ok(SourceKind::CloudTrail),
            "okta" => Ok(SourceKind::Okta),
            "github" => Ok(SourceKind::GitHub),
            "jsonl" | "jsonlines" | "json-lines" | "ndjson" => Ok(SourceKind::JsonLines),
            _ => Err(UnknownSource(s.to_string())),
        }
    }
}

/// How files are read; the defaults suit production, tests shrink them.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Bytes read (after decompression) per block.
    pub block_size: usize,
    /// A batch is handed over once its buffer holds this many bytes...
    pub batch_bytes: usize,
    /// ...or this many records.
    pub batch_records: usize,
    /// A record larger than this is skipped with a reason instead of being loaded.
    pub max_record: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            block_size: 1 << 20,
            batch_bytes: 4 << 20,
            batch_records: 4096,
            max_record: 64 << 20,
        }
    }
}

/// One record of a batch: its bytes and where it is.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'b> {
    /// The record's JSON text.
    pub bytes: &'b [u8],
    /// Offset of its first byte in the (decompressed) stream.
    pub offset: u64,
    /// The 1-based line it starts on.
    pub line: u64,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
    offset: u64,
    line: u64,
}

/// Records read from one file, sharing one buffer.
#[derive(Debug)]
pub struct RecordBatch {
    file: Arc<str>,
    kind: SourceKind,
    buf: Vec<u8>,
    spans: Vec<Span>,
}

impl RecordBatch {
    /// The file the records came from, as given.
    pub fn file(&self) -> &Arc<str> {
        &self.file
    }

    /// The log source (given, or detected from the first record).
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the batch holds no records.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The records, in file order.
    pub fn records(&self) -> impl ExactSizeIterator<Item = RawRecord<'_>> + '_ {
        self.spans.iter().map(|s| RawRecord {
            bytes: &self.buf[s.start as usize..s.end as usize],
            offset: s.offset,
            line: s.line,
        })
    }

    /// A pointer to the record at `offset` of this batch's file.
    pub fn pointer(&self, offset: u64) -> RawPointer {
        RawPointer {
            file: self.file.to_string(),
            offset,
        }
    }
}

/// Something skipped or wrong while reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadProblem {
    /// The file, as given.
    pub file: String,
    /// Byte offset in the (decompressed) stream, when it is about a place in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// 1-based line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// What happened, for a person.
    pub reason: String,
}

impl fmt::Display for ReadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        match (self.line, self.offset) {
            (Some(line), Some(offset)) => write!(f, ": line {line}, offset {offset}")?,
            (None, Some(offset)) => write!(f, ": offset {offset}")?,
            (Some(line), None) => write!(f, ": line {line}")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.reason)
    }
}

/// At most this many problems are kept in a summary; the rest are only counted.
pub const MAX_PROBLEMS: usize = 1000;

/// What reading some files did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReadSummary {
    /// Files opened.
    pub files: u64,
    /// Records handed over.
    pub records: u64,
    /// Bytes read, after decompression.
    pub bytes: u64,
    /// Problems, the first [`MAX_PROBLEMS`] of them.
    pub problems: Vec<ReadProblem>,
    /// All problems, including those not kept in `problems`.
    pub problem_count: u64,
    /// Files and records skipped, by reason (`empty file`, `record not a JSON object`, …).
    pub skipped_by_reason: BTreeMap<String, u64>,
}

impl ReadSummary {
    /// Records a problem under a reason category.
    pub fn problem(&mut self, category: &str, problem: ReadProblem) {
        self.count(category);
        self.problem_count += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        }
    }

    /// Counts a skipped file or record that needs no message of its own.
    pub fn count(&mut self, category: &str) {
        *self
            .skipped_by_reason
            .entry(category.to_string())
            .or_default() += 1;
    }

    /// Adds another summary's counts and problems to this one.
    pub fn merge(&mut self, other: ReadSummary) {
        self.files += other.files;
        self.records += other.records;
        self.bytes += other.bytes;
        self.problem_count += other.problem_count;
        let room = MAX_PROBLEMS.saturating_sub(self.problems.len());
        self.problems.extend(other.problems.into_iter().take(room));
        for (reason, n) in other.skipped_by_reason {
            *self.skipped_by_reason.entry(reason).or_default() += n;
        }
    }
}

/// Category of a file that could not be opened or read.
pub const UNREADABLE: &str = "unreadable file";
/// Category of an empty file (no records; not an error).
pub const EMPTY: &str = "empty file";
/// Category of a file whose log source could not be recognised.
pub const UNKNOWN_SOURCE: &str = "unknown log source";
/// Category of a gzip stream that ends early.
pub const TRUNCATED_GZIP: &str = "truncated gzip stream";
/// Category of a gzip stream that is corrupt.
pub const CORRUPT_GZIP: &str = "corrupt gzip stream";

/// Reads one log file with the default options; see [`read_stream`].
pub fn read_file(
    path: &Path,
    kind: Option<SourceKind>,
    on_batch: &mut dyn FnMut(RecordBatch),
) -> ReadSummary {
    read_file_with(path, kind, &ReadOptions::default(), on_batch)
}

/// Reads one log file.
pub fn read_file_with(
    path: &Path,
    kind: Option<SourceKind>,
    options: &ReadOptions,
    on_batch: &mut dyn FnMut(RecordBatch),
) -> ReadSummary {
    let name = path.display().to_string();
    match File::open(path) {
        Ok(file) => read_stream(&name, file, kind, options, on_batch),
        Err(e) => {
            let mut summary = ReadSummary::default();
            summary.problem(
                UNREADABLE,
                ReadProblem {
                    file: name,
                    offset: None,
                    line: None,
                    reason: format!("unreadable: {e}"),
                },
            );
            summary
        }
    }
}

/// Reads a log stream named `name` (gzip or not), handing its records to `on_batch` in
/// batches. `kind` is detected from the first record when not given; a file whose source
/// cannot be recognised is reported and not read.
pub fn read_stream<R: Read>(
    name: &str,
    reader: R,
    kind: Option<SourceKind>,
    options: &ReadOptions,
    on_batch: &mut dyn FnMut(RecordBatch),
) -> ReadSummary {
    let mut driver = Driver::new(name, kind, options);
    let mut input = BufReader::with_capacity(64 << 10, reader);
    let gzip = loop {
        match input.fill_buf() {
            Ok(head) => break head.starts_with(&[0x1f, 0x8b]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                driver.problem(UNREADABLE, None, None, format!("unreadable: {e}"));
                return driver.summary;
            }
        }
    };
    if gzip {
        driver.run(flate2::bufread::MultiGzDecoder::new(input), true, on_batch);
    } else {
        driver.run(input, false, on_batch);
    }
    driver.summary
}

/// The state of reading one stream.
struct Driver<'o> {
    file: Arc<str>,
    kind: Option<SourceKind>,
    options: &'o ReadOptions,
    summary: ReadSummary,
    /// Stream offset of `buf[0]`.
    base: u64,
    spans: Vec<Span>,
    /// Spans already looked at for source detection.
    checked: usize,
    /// Records that did not parse while the source was still unknown.
    undetected: usize,
    /// A fatal problem was reported: stop reading.
    stop: bool,
}

/// Records looked at to recognise a file's source before giving up.
const DETECT_ATTEMPTS: usize = 64;

impl<'o> Driver<'o> {
    fn new(name: &str, kind: Option<SourceKind>, options: &'o ReadOptions) -> Self {
        Driver {
            file: Arc::from(name),
            kind,
            options,
            summary: ReadSummary {
                files: 1,
                ..ReadSummary::default()
            },
            base: 0,
            spans: Vec::new(),
            checked: 0,
            undetected: 0,
            stop: false,
        }
    }

    fn problem(&mut self, category: &str, offset: Option<u64>, line: Option<u64>, reason: String) {
        let problem = ReadProblem {
            file: self.file.to_string(),
            offset,
            line,
            reason,
        };
        self.summary.problem(category, problem);
    }

    fn run(&mut self, mut source: impl Read, gzip: bool, on_batch: &mut dyn FnMut(RecordBatch)) {
        let options = self.options;
        // Span positions are u32: keep every buffer well below 4 GiB.
        let block = options.block_size.clamp(1, 1 << 30);
        let batch_bytes = options.batch_bytes.clamp(1, 1 << 30);
        let batch_records = options.batch_records.max(1);
        let mut splitter = Splitter::new(options.max_record.min(1 << 30));
        let mut buf = Vec::with_capacity(batch_bytes.min(64 << 20) + block);
        let mut pos = 0;
        loop {
            buf.reserve(block);
            let before = buf.len();
            let result = (&mut source).take(block as u64).read_to_end(&mut buf);
            let read = buf.len() - before;
            self.summary.bytes += read as u64;
            pos = splitter.scan(&buf, pos, self.base, self);
            self.detect(&buf, splitter.saw_wrapper);
            if self.stop || splitter.stopped() {
                break;
            }
            if let Err(error) = result {
                let pending = splitter.pending_record(&buf);
                splitter.finish(&buf, self.base, true, self);
                self.read_error(&error, gzip, pending, buf.len());
                break;
            }
            if read == 0 {
                splitter.finish(&buf, self.base, false, self);
                self.detect(&buf, splitter.saw_wrapper);
                if !splitter.started() && self.summary.problem_count == 0 {
                    self.summary.count(EMPTY);
                }
                break;
            }
            if self.spans.len() >= batch_records || buf.len() >= batch_bytes {
                let keep = splitter.retain_from().unwrap_or(pos).min(pos);
                self.flush(&mut buf, keep, on_batch);
                splitter.rebase(keep);
                pos -= keep;
            } else if self.spans.is_empty() && splitter.retain_from().is_none() {
                // Nothing in the buffer is needed any more.
                self.base += buf.len() as u64;
                buf.clear();
                pos = 0;
            }
        }
        if !self.stop {
            let keep = buf.len();
            self.flush(&mut buf, keep, on_batch);
        }
    }

    /// Hands over the spans found so far and keeps `buf[keep..]` for the next batch.
    fn flush(&mut self, buf: &mut Vec<u8>, keep: usize, on_batch: &mut dyn FnMut(RecordBatch)) {
        let mut tail = Vec::with_capacity(buf.capacity().max(buf.len() - keep));
        tail.extend_from_slice(&buf[keep..]);
        let mut full = std::mem::replace(buf, tail);
        self.base += keep as u64;
        self.checked = 0;
        if self.spans.is_empty() {
            return;
        }
        let Some(kind) = self.kind else {
            self.unknown_source(None);
            return;
        };
        full.truncate(keep);
        self.summary.records += self.spans.len() as u64;
        on_batch(RecordBatch {
            file: Arc::clone(&self.file),
            kind,
            buf: full,
            spans: std::mem::take(&mut self.spans),
        });
    }

    /// Recognises the source from the first record that parses, when it was not given.
    fn detect(&mut self, buf: &[u8], saw_wrapper: bool) {
        if self.kind.is_some() || self.stop {
            return;
        }
        if saw_wrapper {
            self.kind = Some(SourceKind::CloudTrail);
            return;
        }
        while self.checked < self.spans.len() {
            let span = self.spans[self.checked];
            self.checked += 1;
            let bytes = &buf[span.start as usize..span.end as usize];
            match LazyRecord::parse(bytes) {
                Ok(record) => {
                    match SourceKind::detect(&record) {
                        Some(kind) => self.kind = Some(kind),
                        None => {
                            let keys: Vec<_> = record.keys().take(8).collect();
                            self.unknown_source(Some((span, keys.join(", "))));
                        }
                    }
                    return;
                }
                Err(_) => {
                    self.undetected += 1;
                    if self.undetected >= DETECT_ATTEMPTS {
                        self.unknown_source(None);
                        return;
                    }
                }
            }
        }
    }

    fn unknown_source(&mut self, first: Option<(Span, String)>) {
        let (offset, line, reason) = match first {
            Some((span, keys)) => (
                Some(span.offset),
                Some(span.line),
                format!(
                    "cannot tell which log this is from its first record (keys: {keys}): \
                     pass --source cloudtrail|okta|github|jsonl"
                ),
            ),
            None => (
                None,
                None,
                "cannot tell which log this is: no record parses as a JSON object; \
                 pass --source cloudtrail|okta|github|jsonl"
                    .to_string(),
            ),
        };
        self.problem(UNKNOWN_SOURCE, offset, line, reason);
        self.spans.clear();
        self.stop = true;
    }

    fn read_error(
        &mut self,
        error: &std::io::Error,
        gzip: bool,
        pending: Option<u64>,
        buffered: usize,
    ) {
        let (category, what) = match (gzip, error.kind()) {
            // zlib's wording varies ("incomplete deflate stream"); say it one way.
            (true, ErrorKind::UnexpectedEof) => (
                TRUNCATED_GZIP,
                format!("{TRUNCATED_GZIP} (unexpected end of file)"),
            ),
            (true, _) => (CORRUPT_GZIP, format!("{CORRUPT_GZIP} ({error})")),
            (false, _) => (UNREADABLE, format!("read failed ({error})")),
        };
        let records = self.summary.records + self.spans.len() as u64;
        let mut reason = format!(
            "{what}; {records} record{} read before it",
            if records == 1 { "" } else { "s" }
        );
        if let Some(offset) = pending {
            reason.push_str(&format!("; the record at offset {offset} was cut off"));
        }
        let offset = self.base + buffered as u64;
        self.problem(category, Some(offset), None, reason);
    }
}

impl SplitSink for Driver<'_> {
    fn record(&mut self, start: usize, end: usize, line: u64) {
        self.spans.push(Span {
            start: start as u32,
            end: end as u32,
            offset: self.base + start as u64,
            line,
        });
    }

    fn problem(&mut self, category: &'static str, offset: u64, line: u64, reason: String) {
        Driver::problem(self, category, Some(offset), Some(line), reason);
    }
}
