//! Grouping by fingerprint: one secret seen in forty places is one finding with forty
//! locations, because it is revoked once. Also the counters every scan reports.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use std::sync::Arc;

use evict_model::{
    Confidence, CredentialKind, Fingerprint, Liveness, Location, Persistence, Provider,
    SecretString,
};
use serde::Serialize;

use crate::engine::{Detection, Engine};

/// One secret, wherever it was seen. Holds no plaintext.
#[derive(Debug, Clone, Serialize)]
pub struct SecretFinding {
    /// Keyed fingerprint: the identity of the secret.
    pub fingerprint: Fingerprint,
    /// The most confident rule that matched.
    pub rule: String,
    /// That rule's name.
    pub name: String,
    /// Issuer.
    pub provider: Provider,
    /// Credential kind.
    pub kind: CredentialKind,
    /// Confidence of the rule.
    pub confidence: Confidence,
    /// Redacted preview.
    pub preview: String,
    /// A non-secret provider id (an AWS access key id), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_id: Option<String>,
    /// What bounds its life.
    pub persistence: Persistence,
    /// Other rules that matched the same secret.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_matched: Vec<String>,
    /// Every place it was seen, in order.
    pub locations: Vec<Location>,
    /// Whether the issuer still accepts it, when the scan asked (`scan --verify`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Liveness>,
}

/// The plaintext of one finding, kept in memory only by an engine that keeps plaintext, for
/// the liveness probes of `scan --verify`.
#[derive(Debug, Clone)]
pub struct HeldSecret {
    /// The secret.
    pub secret: Arc<SecretString>,
    /// The first whole match of each rule that matched it (a rule's match may carry more
    /// than the secret: the host and database of a `postgres://` URL).
    pub matched: HashMap<String, Arc<SecretString>>,
}

/// Why an input was not (fully) scanned, for the summary and `--verbose`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    /// What was skipped (a path, an archive entry, a git object).
    pub what: String,
    /// Why.
    pub reason: String,
}

/// Counters of one scan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanStats {
    /// Files read (archive entries included).
    pub files: u64,
    /// Git blobs read.
    pub blobs: u64,
    /// Chat or ticket messages read.
    pub messages: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Archives entered.
    pub archives: u64,
    /// Inputs skipped, counted by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Matches silenced by an inline `evict:allow`.
    pub allowed_inline: u64,
    /// Findings or locations dropped by `.evictignore`.
    pub ignored: u64,
}

/// Collects detections from many threads and groups them by fingerprint.
#[derive(Debug, Default)]
pub struct Collector {
    groups: Mutex<HashMap<String, SecretFinding>>,
    held: Mutex<HashMap<String, HeldSecret>>,
    skipped: Mutex<SkipLog>,
    files: AtomicU64,
    blobs: AtomicU64,
    messages: AtomicU64,
    bytes: AtomicU64,
    archives: AtomicU64,
    allowed_inline: AtomicU64,
    ignored: AtomicU64,
}

/// Skipped inputs: every one counted by reason, the first [`SKIP_LIST_LIMIT`] kept by name.
#[derive(Debug, Default)]
struct SkipLog {
    listed: Vec<Skipped>,
    by_reason: BTreeMap<String, u64>,
}

/// Skipped inputs listed by name; past this only counts grow, so memory stays bounded.
pub const SKIP_LIST_LIMIT: usize = 10_000;

/// What kind of input was read, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A file or archive entry.
    File,
    /// A git blob.
    Blob,
    /// A chat or ticket message.
    Message,
}

impl Collector {
    /// Counts one input of `bytes` bytes.
    pub fn count_input(&self, kind: InputKind, bytes: u64) {
        let counter = match kind {
            InputKind::File => &self.files,
            InputKind::Blob => &self.blobs,
            InputKind::Message => &self.messages,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Inputs read and bytes scanned so far, for a progress display.
    pub fn progress(&self) -> (u64, u64) {
        let inputs = self.files.load(Ordering::Relaxed)
            + self.blobs.load(Ordering::Relaxed)
            + self.messages.load(Ordering::Relaxed);
        (inputs, self.bytes.load(Ordering::Relaxed))
    }

    /// Counts an archive entered.
    pub fn count_archive(&self) {
        self.archives.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts matches silenced inline.
    pub fn count_allowed(&self, n: u64) {
        self.allowed_inline.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts something dropped by `.evictignore`.
    pub fn count_ignored(&self, n: u64) {
        self.ignored.fetch_add(n, Ordering::Relaxed);
    }

    /// Records an input that was skipped, and why.
    pub fn skip(&self, what: impl Into<String>, reason: impl Into<String>) {
        let skipped = Skipped {
            what: what.into(),
            reason: reason.into(),
        };
        let mut log = self
            .skipped
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *log.by_reason
            .entry(reason_class(&skipped.reason))
            .or_default() += 1;
        if log.listed.len() < SKIP_LIST_LIMIT {
            log.listed.push(skipped);
        }
    }

    /// Takes the plaintexts held so far, by fingerprint (empty unless the engine keeps
    /// plaintext).
    pub fn take_plaintexts(&self) -> HashMap<String, HeldSecret> {
        std::mem::take(
            &mut *self
                .held
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Adds a detection seen at `location`.
    pub fn add(&self, engine: &Engine, mut detection: Detection, location: Location) {
        let rule = engine.rules().rule(detection.rule);
        if let Some(plaintext) = detection.plaintext.take() {
            let mut held = self
                .held
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let entry = held
                .entry(detection.fingerprint.as_str().to_string())
                .or_insert_with(|| HeldSecret {
                    secret: plaintext.secret,
                    matched: HashMap::new(),
                });
            entry
                .matched
                .entry(rule.id.clone())
                .or_insert(plaintext.matched);
        }
        let mut groups = self
            .groups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let group = groups
            .entry(detection.fingerprint.as_str().to_string())
            .or_insert_with(|| SecretFinding {
                fingerprint: detection.fingerprint.clone(),
                rule: rule.id.clone(),
                name: rule.name.clone(),
                provider: rule.provider.clone(),
                kind: rule.kind,
                confidence: rule.confidence,
                preview: detection.preview.clone(),
                native_id: detection.native_id.clone(),
                persistence: detection.persistence,
                also_matched: Vec::new(),
                locations: Vec::new(),
                liveness: None,
            });
        if group.rule != rule.id {
            // The most confident rule names the finding; ties go to the first id in order.
            let better = (rule.confidence, std::cmp::Reverse(&rule.id))
                > (group.confidence, std::cmp::Reverse(&group.rule));
            let demoted = if better {
                let old = std::mem::replace(&mut group.rule, rule.id.clone());
                group.name = rule.name.clone();
                group.provider = rule.provider.clone();
                group.kind = rule.kind;
                group.confidence = rule.confidence;
                group.persistence = detection.persistence;
                old
            } else {
                rule.id.clone()
            };
            if !group.also_matched.contains(&demoted) {
                group.also_matched.push(demoted);
            }
        }
        if group.native_id.is_none() {
            group.native_id = detection.native_id;
        }
        if !group.locations.contains(&location) {
            group.locations.push(location);
        }
    }

    /// The findings, most confident first, each with its locations in order; and the counters
    /// with the full list of skipped inputs.
    pub fn finish(self) -> (Vec<SecretFinding>, ScanStats, Vec<Skipped>) {
        let groups = self
            .groups
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut findings: Vec<SecretFinding> = groups.into_values().collect();
        for finding in &mut findings {
            finding.locations.sort_by_key(Location::display);
            finding.also_matched.sort();
        }
        findings.sort_by(|a, b| {
            b.confidence
                .cmp(&a.confidence)
                .then_with(|| a.rule.cmp(&b.rule))
                .then_with(|| a.fingerprint.as_str().cmp(b.fingerprint.as_str()))
        });
        let SkipLog {
            listed: mut skipped,
            by_reason,
        } = self
            .skipped
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        skipped.sort();
        let stats = ScanStats {
            files: self.files.into_inner(),
            blobs: self.blobs.into_inner(),
            messages: self.messages.into_inner(),
            bytes: self.bytes.into_inner(),
            archives: self.archives.into_inner(),
            skipped: by_reason,
            allowed_inline: self.allowed_inline.into_inner(),
            ignored: self.ignored.into_inner(),
        };
        (findings, stats, skipped)
    }
}

/// The part of a skip reason before any detail, so counts group alike reasons.
fn reason_class(reason: &str) -> String {
    reason
        .split([':', '('])
        .next()
        .unwrap_or(reason)
        .trim()
        .to_string()
}
