//! Inputs on disk: directory trees walked in parallel, files read in large blocks (memory stays
//! flat however big a file is), archives entered within a decompression budget, binaries and
//! unreadable files skipped with a reason.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use evict_model::Location;

use crate::engine::{Detection, Engine, Scratch};
use crate::findings::{Collector, InputKind};
use crate::suppress::IgnoreList;

/// Bytes read per block of a large file.
const BLOCK: usize = 8 << 20;
/// Bytes carried from one block into the next, so a secret across the boundary is still seen
/// whole. Larger than any rule's longest match (PEM blocks are bounded at 8 KiB).
const OVERLAP: usize = 64 << 10;
/// Bytes inspected to tell text from binary.
const SNIFF: usize = 8 << 10;
/// Archives inside archives are entered this deep.
const MAX_ARCHIVE_DEPTH: u32 = 4;
/// A UTF-16 file is decoded whole, up to this size.
const MAX_UTF16_BYTES: u64 = 64 << 20;

/// How a tree is walked.
#[derive(Debug, Clone)]
pub struct TreeOptions {
    /// Honour `.gitignore`, `.ignore` and git's exclude files.
    pub respect_gitignore: bool,
    /// Follow symbolic links (loops are detected and skipped).
    pub follow_symlinks: bool,
    /// Enter directories marked as caches (`CACHEDIR.TAG`, e.g. cargo's `target/`).
    pub include_cache_dirs: bool,
    /// Most bytes decompressed from one archive before the rest is skipped as a possible bomb.
    pub archive_budget: u64,
    /// Worker threads.
    pub threads: usize,
    /// Directories never entered (Evict's own store).
    pub exclude: Vec<PathBuf>,
}

impl Default for TreeOptions {
    fn default() -> Self {
        TreeOptions {
            respect_gitignore: false,
            follow_symlinks: false,
            include_cache_dirs: false,
            archive_budget: 1 << 30,
            threads: std::thread::available_parallelism().map_or(2, usize::from),
            exclude: Vec::new(),
        }
    }
}

/// Everything a worker needs to turn bytes into findings.
#[derive(Debug, Clone, Copy)]
pub struct Sink<'a> {
    /// The matcher.
    pub engine: &'a Engine,
    /// Where findings and counters go.
    pub collector: &'a Collector,
    /// What the team chose to ignore.
    pub ignore: &'a IgnoreList,
}

impl Sink<'_> {
    /// Scans bytes already in memory (a git blob, a chat message); `locate` builds the location
    /// from a 1-based line and column.
    pub fn scan_bytes(
        &self,
        bytes: &[u8],
        scratch: &mut Scratch,
        locate: impl Fn(u64, u64) -> Location,
    ) {
        for detection in self.scan_detections(bytes, bytes.len(), scratch) {
            let location = locate(detection.line, detection.column);
            self.collector.add(self.engine, detection, location);
        }
    }

    /// The detections starting before `until` in `bytes` that no inline allow or
    /// `.evictignore` entry silences; those that are silenced are counted.
    pub fn scan_detections(
        &self,
        bytes: &[u8],
        until: usize,
        scratch: &mut Scratch,
    ) -> Vec<Detection> {
        let output = self.engine.scan(bytes, 0, until, scratch);
        self.collector.count_allowed(output.allowed_inline);
        let before = output.detections.len();
        let kept: Vec<Detection> = output
            .detections
            .into_iter()
            .filter(|d| {
                let rule = &self.engine.rules().rule(d.rule).id;
                !self.ignore.ignores_finding(rule, d.fingerprint.as_str())
            })
            .collect();
        self.collector.count_ignored((before - kept.len()) as u64);
        kept
    }
}

/// The bytes to scan of an input held in memory: itself when it is text, decoded when it is
/// UTF-16; binary content is refused with the reason.
pub fn text_for_scanning(bytes: &[u8]) -> Result<Cow<'_, [u8]>, &'static str> {
    match sniff(&bytes[..bytes.len().min(SNIFF)]) {
        Sniff::Text => Ok(Cow::Borrowed(bytes)),
        Sniff::Utf16 { big_endian } => Ok(Cow::Owned(decode_utf16(bytes, big_endian))),
        Sniff::Binary => Err("binary file"),
    }
}

/// UTF-16 bytes as UTF-8, a byte-order mark dropped, invalid units replaced.
fn decode_utf16(bytes: &[u8], big_endian: bool) -> Vec<u8> {
    let units = bytes.chunks_exact(2).map(|pair| {
        if big_endian {
            u16::from_be_bytes([pair[0], pair[1]])
        } else {
            u16::from_le_bytes([pair[0], pair[1]])
        }
    });
    let text: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    text.strip_prefix('\u{feff}')
        .unwrap_or(&text)
        .as_bytes()
        .to_vec()
}

/// Walks `root` (a directory or a single file) and scans everything in it.
pub fn scan_path(sink: Sink<'_>, root: &Path, options: &TreeOptions) {
    if root.is_file() {
        let mut worker = Worker::new(sink, options.archive_budget);
        worker.scan_file(root, &display_path(root));
        return;
    }
    let mut builder = ignore::WalkBuilder::new(root);
    builder
        .standard_filters(false)
        .hidden(false)
        .git_ignore(options.respect_gitignore)
        .git_global(options.respect_gitignore)
        .git_exclude(options.respect_gitignore)
        .ignore(options.respect_gitignore)
        .parents(options.respect_gitignore)
        .require_git(false)
        .follow_links(options.follow_symlinks)
        .threads(options.threads.max(1));
    // The entry filter must be 'static: it notes skipped directories here for the collector.
    let pruned: Arc<std::sync::Mutex<Vec<(String, &'static str)>>> = Arc::default();
    let prune_log = Arc::clone(&pruned);
    let prune = move |path: &Path, reason: &'static str| {
        prune_log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((display_path(path), reason));
    };
    let include_cache_dirs = options.include_cache_dirs;
    let exclude: Vec<PathBuf> = options
        .exclude
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let root_for_filter = root.to_path_buf();
    builder.filter_entry(move |entry| {
        let path = entry.path();
        if !entry.file_type().is_some_and(|t| t.is_dir()) {
            return true;
        }
        if entry.file_name() == ".git" {
            prune(path, "git directory: scan history with --git");
            return false;
        }
        if !include_cache_dirs && path != root_for_filter && path.join("CACHEDIR.TAG").is_file() {
            prune(
                path,
                "cache directory (CACHEDIR.TAG): enter with --include-cache-dirs",
            );
            return false;
        }
        if !exclude.is_empty() && path.canonicalize().is_ok_and(|p| exclude.contains(&p)) {
            prune(path, "Evict's own store");
            return false;
        }
        true
    });
    let budget = options.archive_budget;
    builder.build_parallel().run(|| {
        let mut worker = Worker::new(sink, budget);
        Box::new(move |result| {
            match result {
                Err(error) => worker.sink.collector.skip(
                    error_path(&error),
                    format!("unreadable: {}", error_reason(&error)),
                ),
                Ok(entry) => {
                    if entry.file_type().is_some_and(|t| t.is_file()) {
                        let path = entry.path();
                        let shown = display_path(path);
                        let relative = path
                            .strip_prefix(root)
                            .map(display_path)
                            .unwrap_or_else(|_| shown.clone());
                        if worker.sink.ignore.ignores_path(&relative) {
                            worker.sink.collector.count_ignored(1);
                        } else {
                            worker.scan_file(path, &shown);
                        }
                    }
                }
            }
            ignore::WalkState::Continue
        })
    });
    let pruned = std::mem::take(&mut *pruned.lock().unwrap_or_else(|p| p.into_inner()));
    for (path, reason) in pruned {
        sink.collector.skip(path, reason);
    }
}

fn display_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    text.strip_prefix("./").unwrap_or(&text).to_string()
}

fn error_path(error: &ignore::Error) -> String {
    match error {
        ignore::Error::WithPath { path, .. } => display_path(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => display_path(child),
        _ => String::from("(walk)"),
    }
}

fn error_reason(error: &ignore::Error) -> String {
    match error {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => error_reason(err),
        ignore::Error::Loop { ancestor, .. } => {
            format!("symbolic link loop back to {}", display_path(ancestor))
        }
        ignore::Error::Io(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// What an archive member is called, for the location.
#[derive(Debug, Clone)]
struct Origin {
    path: String,
    entry: Option<String>,
}

impl Origin {
    fn shown(&self) -> String {
        match &self.entry {
            Some(entry) => format!("{}!{entry}", self.path),
            None => self.path.clone(),
        }
    }

    fn inner(&self, name: &str) -> Origin {
        Origin {
            path: self.path.clone(),
            entry: Some(match &self.entry {
                Some(outer) => format!("{outer}!{name}"),
                None => name.to_string(),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArchiveKind {
    Zip,
    Tar,
    TarGz,
    Gz,
}

fn archive_kind(name: &str) -> Option<ArchiveKind> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        Some(ArchiveKind::TarGz)
    } else if lower.ends_with(".tar") {
        Some(ArchiveKind::Tar)
    } else if lower.ends_with(".gz") {
        Some(ArchiveKind::Gz)
    } else if lower.ends_with(".zip") || lower.ends_with(".jar") || lower.ends_with(".whl") {
        Some(ArchiveKind::Zip)
    } else {
        None
    }
}

/// Decompressed bytes one top-level archive may still produce.
#[derive(Debug, Clone)]
struct Budget(Arc<AtomicU64>);

impl Budget {
    fn new(bytes: u64) -> Budget {
        Budget(Arc::new(AtomicU64::new(bytes)))
    }
}

/// Stops a decompression stream when the archive's budget is spent.
struct Limited<R> {
    inner: R,
    budget: Budget,
}

const BUDGET_SPENT: &str = "decompression budget spent";

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let left = self.budget.0.load(Ordering::Relaxed);
        if n as u64 > left {
            self.budget.0.store(0, Ordering::Relaxed);
            return Err(io::Error::other(BUDGET_SPENT));
        }
        self.budget.0.fetch_sub(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One walker thread's state: scratch space and a reusable block buffer.
struct Worker<'a> {
    sink: Sink<'a>,
    scratch: Scratch,
    buffer: Vec<u8>,
    archive_budget: u64,
}

/// How the first bytes of an input read.
enum Sniff {
    Text,
    Utf16 { big_endian: bool },
    Binary,
}

fn sniff(head: &[u8]) -> Sniff {
    match head {
        [0xff, 0xfe, ..] => return Sniff::Utf16 { big_endian: false },
        [0xfe, 0xff, ..] => return Sniff::Utf16 { big_endian: true },
        _ => {}
    }
    if memchr::memchr(0, head).is_none() {
        return Sniff::Text;
    }
    // UTF-16 without a byte-order mark: ASCII text leaves every other byte zero.
    let pairs = head.len() / 2;
    if pairs >= 8 {
        let even = head.iter().step_by(2).filter(|&&b| b == 0).count();
        let odd = head.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
        if odd * 10 >= pairs * 9 && even * 10 <= pairs {
            return Sniff::Utf16 { big_endian: false };
        }
        if even * 10 >= pairs * 9 && odd * 10 <= pairs {
            return Sniff::Utf16 { big_endian: true };
        }
    }
    Sniff::Binary
}

impl<'a> Worker<'a> {
    fn new(sink: Sink<'a>, archive_budget: u64) -> Worker<'a> {
        Worker {
            sink,
            scratch: sink.engine.scratch(),
            buffer: Vec::with_capacity(BLOCK + OVERLAP),
            archive_budget,
        }
    }

    fn scan_file(&mut self, path: &Path, shown: &str) {
        let origin = Origin {
            path: shown.to_string(),
            entry: None,
        };
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) => {
                self.sink.collector.skip(shown, format!("unreadable: {e}"));
                return;
            }
        };
        match archive_kind(shown) {
            Some(kind) => {
                let compressed = file.metadata().map_or(0, |m| m.len());
                // A bomb expands hundreds of times; ordinary archives a few times.
                let budget = Budget::new(self.archive_budget.min((compressed * 200).max(64 << 20)));
                self.sink.collector.count_archive();
                self.scan_archive(kind, file, &origin, 1, &budget);
            }
            None => self.scan_stream(file, &origin),
        }
    }

    fn scan_archive<R: Read + Seek>(
        &mut self,
        kind: ArchiveKind,
        reader: R,
        origin: &Origin,
        depth: u32,
        budget: &Budget,
    ) {
        let result = match kind {
            ArchiveKind::Zip => self.scan_zip(reader, origin, depth, budget),
            ArchiveKind::Tar => self.scan_tar(reader, origin, depth, budget),
            ArchiveKind::TarGz => {
                let gz = Limited {
                    inner: flate2::read::GzDecoder::new(reader),
                    budget: budget.clone(),
                };
                self.scan_tar(gz, origin, depth, budget)
            }
            ArchiveKind::Gz => {
                let inner_name = origin
                    .entry
                    .as_deref()
                    .unwrap_or(&origin.path)
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches(".gz")
                    .trim_end_matches(".GZ")
                    .to_string();
                let gz = Limited {
                    inner: flate2::read::GzDecoder::new(reader),
                    budget: budget.clone(),
                };
                self.scan_member(gz, &origin.inner(&inner_name), depth, budget);
                Ok(())
            }
        };
        if let Err(reason) = result {
            self.sink.collector.skip(origin.shown(), reason);
        }
    }

    fn scan_zip<R: Read + Seek>(
        &mut self,
        reader: R,
        origin: &Origin,
        depth: u32,
        budget: &Budget,
    ) -> Result<(), String> {
        let mut archive =
            zip::ZipArchive::new(reader).map_err(|e| format!("corrupt zip archive: {e}"))?;
        for index in 0..archive.len() {
            if budget.0.load(Ordering::Relaxed) == 0 {
                return Err(format!(
                    "{BUDGET_SPENT}: the rest of the archive was not scanned (possible zip bomb)"
                ));
            }
            let entry = match archive.by_index(index) {
                Ok(entry) => entry,
                Err(e) => {
                    self.sink
                        .collector
                        .skip(origin.shown(), format!("corrupt zip entry {index}: {e}"));
                    continue;
                }
            };
            if !entry.is_file() {
                continue;
            }
            let name = entry
                .name()
                .map(|n| n.into_owned())
                .unwrap_or_else(|_| format!("(entry {index})"));
            let limited = Limited {
                inner: entry,
                budget: budget.clone(),
            };
            self.scan_member(limited, &origin.inner(&name), depth, budget);
        }
        Ok(())
    }

    fn scan_tar<R: Read>(
        &mut self,
        reader: R,
        origin: &Origin,
        depth: u32,
        budget: &Budget,
    ) -> Result<(), String> {
        let mut archive = tar::Archive::new(reader);
        let entries = archive
            .entries()
            .map_err(|e| format!("corrupt tar archive: {e}"))?;
        for entry in entries {
            let entry = entry.map_err(|e| {
                if e.to_string().contains(BUDGET_SPENT) {
                    format!(
                        "{BUDGET_SPENT}: the rest of the archive was not scanned (possible bomb)"
                    )
                } else {
                    format!("corrupt tar archive: {e}")
                }
            })?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry
                .path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "(unnamed)".into());
            self.scan_member(entry, &origin.inner(&name), depth, budget);
        }
        Ok(())
    }

    /// An archive member: another archive (entered while depth allows) or a stream to scan.
    fn scan_member<R: Read>(
        &mut self,
        mut reader: R,
        origin: &Origin,
        depth: u32,
        budget: &Budget,
    ) {
        let name = origin.entry.as_deref().unwrap_or(&origin.path);
        match archive_kind(name) {
            Some(_) if depth >= MAX_ARCHIVE_DEPTH => {
                self.sink.collector.skip(
                    origin.shown(),
                    format!("archive nested deeper than {MAX_ARCHIVE_DEPTH} levels"),
                );
            }
            Some(kind) => {
                // Zip needs random access: inner archives are read into memory (within budget).
                let mut bytes = Vec::new();
                if let Err(e) = reader.read_to_end(&mut bytes) {
                    self.sink
                        .collector
                        .skip(origin.shown(), format!("unreadable archive member: {e}"));
                    return;
                }
                self.sink.collector.count_archive();
                self.scan_archive(kind, Cursor::new(bytes), origin, depth + 1, budget);
            }
            None => self.scan_stream(reader, origin),
        }
    }

    /// Scans a stream block by block; a block's last `OVERLAP` bytes are scanned again at the
    /// start of the next, and a detection belongs to the block where it starts.
    fn scan_stream<R: Read>(&mut self, mut reader: R, origin: &Origin) {
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.clear();
        let mut lines_before = 0u64;
        // Bytes of the current line that came before the buffer: columns on a line that
        // spans blocks count from the line's real start.
        let mut column_before = 0u64;
        let mut total = 0u64;
        let mut first = true;
        loop {
            let want = BLOCK + OVERLAP - buffer.len();
            let got = match (&mut reader).take(want as u64).read_to_end(&mut buffer) {
                Ok(got) => got,
                Err(e) => {
                    let reason = if e.to_string().contains(BUDGET_SPENT) {
                        format!("{BUDGET_SPENT}: the rest was not scanned (possible bomb)")
                    } else {
                        format!("read failed after {total} bytes: {e}")
                    };
                    self.sink.collector.skip(origin.shown(), reason);
                    break;
                }
            };
            let at_end = got < want;
            if first {
                first = false;
                match sniff(&buffer[..buffer.len().min(SNIFF)]) {
                    Sniff::Text => {}
                    Sniff::Binary => {
                        self.sink.collector.skip(origin.shown(), "binary file");
                        break;
                    }
                    Sniff::Utf16 { big_endian } => {
                        self.scan_utf16(&mut reader, &mut buffer, big_endian, origin);
                        break;
                    }
                }
            }
            let owned_end = if at_end {
                buffer.len()
            } else {
                buffer.len() - OVERLAP
            };
            self.scan_block(&buffer, owned_end, lines_before, column_before, origin);
            total += owned_end as u64;
            if at_end {
                self.sink.collector.count_input(InputKind::File, total);
                break;
            }
            let owned = &buffer[..owned_end];
            lines_before += memchr::memchr_iter(b'\n', owned).count() as u64;
            column_before = match memchr::memrchr(b'\n', owned) {
                Some(newline) => (owned_end - newline - 1) as u64,
                None => column_before + owned_end as u64,
            };
            buffer.drain(..owned_end);
        }
        self.buffer = buffer;
    }

    fn scan_block(
        &mut self,
        block: &[u8],
        owned_end: usize,
        lines_before: u64,
        column_before: u64,
        origin: &Origin,
    ) {
        let sink = self.sink;
        for detection in sink.scan_detections(block, owned_end, &mut self.scratch) {
            let location = Location::File {
                path: origin.path.clone(),
                entry: origin.entry.clone(),
                line: lines_before + detection.line,
                column: if detection.line == 1 {
                    column_before + detection.column
                } else {
                    detection.column
                },
            };
            sink.collector.add(sink.engine, detection, location);
        }
    }

    fn scan_utf16<R: Read>(
        &mut self,
        reader: &mut R,
        buffer: &mut Vec<u8>,
        big_endian: bool,
        origin: &Origin,
    ) {
        let limit = MAX_UTF16_BYTES.saturating_sub(buffer.len() as u64);
        if let Err(e) = reader.take(limit).read_to_end(buffer) {
            self.sink
                .collector
                .skip(origin.shown(), format!("read failed: {e}"));
            return;
        }
        if buffer.len() as u64 >= MAX_UTF16_BYTES {
            self.sink.collector.skip(
                origin.shown(),
                format!(
                    "UTF-16 file larger than {} MiB: only its start was scanned",
                    MAX_UTF16_BYTES >> 20
                ),
            );
        }
        let bytes = decode_utf16(buffer, big_endian);
        self.sink
            .collector
            .count_input(InputKind::File, buffer.len() as u64);
        self.scan_block(&bytes, bytes.len(), 0, 0, origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_tells_text_binary_and_utf16_apart() {
        assert!(matches!(sniff(b"plain text\n"), Sniff::Text));
        assert!(matches!(
            sniff(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0"),
            Sniff::Binary
        ));
        let utf16: Vec<u8> = "token = abcdefgh"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(matches!(sniff(&utf16), Sniff::Utf16 { big_endian: false }));
        assert!(matches!(
            sniff(&[0xfe, 0xff, 0, b'a']),
            Sniff::Utf16 { big_endian: true }
        ));
    }

    #[test]
    fn archive_kinds_by_name() {
        assert_eq!(archive_kind("a.TGZ"), Some(ArchiveKind::TarGz));
        assert_eq!(archive_kind("a.tar.gz"), Some(ArchiveKind::TarGz));
        assert_eq!(archive_kind("a.json.gz"), Some(ArchiveKind::Gz));
        assert_eq!(archive_kind("a.zip"), Some(ArchiveKind::Zip));
        assert_eq!(archive_kind("a.rs"), None);
    }
}
