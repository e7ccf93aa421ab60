//! The matcher: one keyword pass decides which rules run, each triggered rule's regex runs over
//! the input, and every candidate is validated, fingerprinted and redacted before it leaves.

use std::sync::Arc;

use evict_model::{Fingerprint, FingerprintKey, Persistence, SecretString, redacted_preview};
use jiff::Timestamp;

use crate::lifetime::persistence;
use crate::rules::{Rule, RuleSet};

/// The inline marker that silences a match on its line.
pub const ALLOW_MARKER: &[u8] = b"evict:allow";

/// One validated secret in one input, already fingerprinted and redacted.
#[derive(Debug, Clone)]
pub struct Detection {
    /// Index of the rule in the [`RuleSet`].
    pub rule: u16,
    /// Keyed fingerprint of the secret.
    pub fingerprint: Fingerprint,
    /// Redacted preview.
    pub preview: String,
    /// A non-secret provider id of the credential (an AWS access key id), when the rule has one.
    pub native_id: Option<String>,
    /// What the secret says about its lifetime.
    pub persistence: Persistence,
    /// Byte offset of the secret in the input.
    pub offset: usize,
    /// 1-based line.
    pub line: u64,
    /// 1-based byte column.
    pub column: u64,
    /// The plaintext, only from an engine that keeps it ([`Engine::keeping_plaintext`]).
    pub plaintext: Option<Plaintext>,
}

/// The plaintext of one detection, for `scan --verify`, which asks the issuer whether the
/// secret still works. Held in memory only, as [`SecretString`]s: never serialised, printed
/// or stored.
#[derive(Debug, Clone)]
pub struct Plaintext {
    /// The secret itself (the rule's `secret` group).
    pub secret: Arc<SecretString>,
    /// The whole match around it (a `postgres://` URL with its host, port and database), which
    /// holds the secret too.
    pub matched: Arc<SecretString>,
}

/// Outcome of scanning one input.
#[derive(Debug, Default)]
pub struct ScanOutput {
    /// Validated secrets.
    pub detections: Vec<Detection>,
    /// Matches silenced by an inline `evict:allow`.
    pub allowed_inline: u64,
}

/// Rules, the fingerprint key and the clock: everything a scan of one input needs.
#[derive(Debug)]
pub struct Engine {
    rules: RuleSet,
    key: FingerprintKey,
    now: Timestamp,
    keep_plaintext: bool,
}

/// Per-thread reusable state, so a scan allocates nothing when nothing matches.
#[derive(Debug, Default)]
pub struct Scratch {
    triggered: Vec<bool>,
    order: Vec<u16>,
}

impl Engine {
    /// An engine over `rules`, fingerprinting under `key`, judging expiry at `now`.
    pub fn new(rules: RuleSet, key: FingerprintKey, now: Timestamp) -> Engine {
        Engine {
            rules,
            key,
            now,
            keep_plaintext: false,
        }
    }

    /// The same engine, but each detection also carries its [`Plaintext`] in memory: only for
    /// a scan that will ask issuers whether the secrets it found still work.
    pub fn keeping_plaintext(mut self) -> Engine {
        self.keep_plaintext = true;
        self
    }

    /// The rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Fresh scratch space sized for these rules.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            triggered: vec![false; self.rules.len()],
            order: Vec::new(),
        }
    }

    /// Scans one input. Only detections starting in `from..to` are kept: the bytes outside
    /// are context shared with the neighbouring blocks of a large file.
    pub fn scan(&self, input: &[u8], from: usize, to: usize, scratch: &mut Scratch) -> ScanOutput {
        let mut output = ScanOutput::default();
        if scratch.triggered.len() != self.rules.len() {
            *scratch = self.scratch();
        }
        scratch.order.clear();
        // Every position where a keyword starts: after a hit the search resumes one byte on,
        // not past the hit, so keywords overlapping it are still seen.
        let mut at = 0;
        while let Some(hit) = self
            .rules
            .prefilter
            .find(aho_corasick::Input::new(input).span(at..input.len()))
        {
            for &rule in &self.rules.triggers[hit.pattern().as_usize()] {
                let slot = &mut scratch.triggered[usize::from(rule)];
                if !*slot {
                    *slot = true;
                    scratch.order.push(rule);
                }
            }
            at = hit.start() + 1;
        }
        if scratch.order.is_empty() {
            return output;
        }
        scratch.order.sort_unstable();
        let mut lines = LineIndex::default();
        for &index in &scratch.order {
            scratch.triggered[usize::from(index)] = false;
            let rule = self.rules.rule(index);
            self.run_rule(index, rule, input, from..to, &mut lines, &mut output);
        }
        output
    }

    fn run_rule(
        &self,
        index: u16,
        rule: &Rule,
        input: &[u8],
        owned: std::ops::Range<usize>,
        lines: &mut LineIndex,
        output: &mut ScanOutput,
    ) {
        for caps in rule.regex.captures_iter(input) {
            let Some(secret) = caps.get(rule.secret_group) else {
                continue;
            };
            if !owned.contains(&secret.start()) || secret.is_empty() {
                continue;
            }
            let bytes = secret.as_bytes();
            if !rule.validators.iter().all(|v| v.accepts(bytes)) {
                continue;
            }
            lines.build(input);
            let whole = caps.get(0).map_or(secret.range(), |m| m.range());
            let (line_start, line_end) = (
                lines.line_start(whole.start),
                lines.line_end(whole.end, input),
            );
            if memchr::memmem::find(&input[line_start..line_end], ALLOW_MARKER).is_some() {
                output.allowed_inline += 1;
                continue;
            }
            let native_id = rule
                .id_group
                .and_then(|g| caps.get(g))
                .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                .or_else(|| {
                    let (pair, within) = rule.pair.as_ref()?;
                    let window = lines.window(secret.start(), *within, input);
                    nearest_id(pair, &input[window.clone()], secret.start() - window.start)
                });
            let plaintext = SecretString::new(String::from_utf8_lossy(bytes).into_owned());
            let line = lines.line_of(secret.start());
            let held = self.keep_plaintext.then(|| Plaintext {
                secret: Arc::new(SecretString::new(plaintext.expose().to_string())),
                matched: Arc::new(SecretString::new(
                    String::from_utf8_lossy(&input[whole.clone()]).into_owned(),
                )),
            });
            output.detections.push(Detection {
                rule: index,
                fingerprint: self.key.fingerprint(&plaintext),
                preview: preview(&plaintext),
                native_id,
                persistence: persistence(rule.lifetime, bytes, self.now),
                offset: secret.start(),
                line,
                column: (secret.start() - lines.line_start(secret.start()) + 1) as u64,
                plaintext: held,
            });
        }
    }
}

/// The `id` match of `pair` closest to `secret_at` within `window`.
fn nearest_id(pair: &regex::bytes::Regex, window: &[u8], secret_at: usize) -> Option<String> {
    let group = pair.capture_names().position(|n| n == Some("id"))?;
    pair.captures_iter(window)
        .filter_map(|c| c.get(group))
        .min_by_key(|m| m.start().abs_diff(secret_at))
        .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
}

/// A preview that names the format and never enough of the secret to use it. Key blocks show
/// their armour line (`-----BEGIN RSA PRIVATE KEY-----`, not secret) and their length.
pub fn preview(secret: &SecretString) -> String {
    let text = secret.expose();
    let armoured = ["-----BEGIN", "---- BEGIN", "PuTTY-User-Key-File"]
        .iter()
        .any(|p| text.starts_with(p));
    if armoured {
        return format!("{}…({} chars)", armour_line(text), text.len());
    }
    redacted_preview(text)
}

/// The first line of a key block, cut at a line break (real or escaped as `\n` in JSON) and
/// at the dashes that close a BEGIN marker, and never longer than 64 characters.
fn armour_line(text: &str) -> &str {
    let mut end = text.find(['\n', '\r', '\\']).unwrap_or(text.len()).min(64);
    if let Some(close) = text.get(5..end).and_then(|rest| rest.find("----")) {
        let dashes = text[5 + close..].bytes().take_while(|&b| b == b'-').count();
        end = end.min(5 + close + dashes);
    }
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Newline offsets of one input, built on the first detection only.
#[derive(Debug, Default)]
struct LineIndex {
    built: bool,
    newlines: Vec<usize>,
}

impl LineIndex {
    fn build(&mut self, input: &[u8]) {
        if !self.built {
            self.newlines = memchr::memchr_iter(b'\n', input).collect();
            self.built = true;
        }
    }

    /// 1-based line of a byte offset.
    fn line_of(&self, offset: usize) -> u64 {
        self.newlines.partition_point(|&nl| nl < offset) as u64 + 1
    }

    /// Offset of the first byte of the line holding `offset`.
    fn line_start(&self, offset: usize) -> usize {
        let before = self.newlines.partition_point(|&nl| nl < offset);
        if before == 0 {
            0
        } else {
            self.newlines[before - 1] + 1
        }
    }

    /// Offset just past the line holding `offset` (its newline excluded).
    fn line_end(&self, offset: usize, input: &[u8]) -> usize {
        let at = self.newlines.partition_point(|&nl| nl < offset);
        self.newlines.get(at).copied().unwrap_or(input.len())
    }

    /// The bytes from `lines` lines before to `lines` lines after the line holding `offset`.
    fn window(&self, offset: usize, lines: u32, input: &[u8]) -> std::ops::Range<usize> {
        let line = self.newlines.partition_point(|&nl| nl < offset);
        let lines = lines as usize;
        let start = match line.checked_sub(lines + 1) {
            Some(i) => self.newlines[i] + 1,
            None => 0,
        };
        let end = self
            .newlines
            .get(line + lines)
            .copied()
            .unwrap_or(input.len());
        start..end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_block_previews_show_only_the_armour() {
        let block = SecretString::new(
            "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----\\n"
                .into(),
        );
        assert_eq!(preview(&block), "-----BEGIN PRIVATE KEY-----…(90 chars)");
        let ssh2 = SecretString::new("---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nABC".into());
        assert_eq!(
            preview(&ssh2),
            "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----…(46 chars)"
        );
        let putty =
            SecretString::new("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none".into());
        assert_eq!(
            preview(&putty),
            "PuTTY-User-Key-File-3: ssh-ed25519…(51 chars)"
        );
    }
}

#[cfg(test)]
mod prefilter_tests {
    use std::collections::BTreeSet;
    use std::sync::LazyLock;

    use aho_corasick::{AhoCorasick, MatchKind};
    use proptest::prelude::*;

    use crate::rules::RuleSet;

    static RULES: LazyLock<RuleSet> = LazyLock::new(|| RuleSet::builtin().unwrap());

    /// Every (keyword, rule), searched exhaustively with overlaps: the reference.
    static REFERENCE: LazyLock<(AhoCorasick, Vec<u16>)> = LazyLock::new(|| {
        let keywords: Vec<(String, u16)> = RULES
            .rules()
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                r.keywords
                    .iter()
                    .map(move |k| (k.to_ascii_lowercase(), i as u16))
            })
            .collect();
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(keywords.iter().map(|(k, _)| k))
            .unwrap();
        (ac, keywords.into_iter().map(|(_, r)| r).collect())
    });

    fn reference(input: &[u8]) -> BTreeSet<u16> {
        let (ac, rule_of) = &*REFERENCE;
        ac.find_overlapping_iter(input)
            .map(|m| rule_of[m.pattern().as_usize()])
            .collect()
    }

    fn triggered(input: &[u8]) -> BTreeSet<u16> {
        let mut triggered = BTreeSet::new();
        let mut at = 0;
        while let Some(hit) = RULES
            .prefilter
            .find(aho_corasick::Input::new(input).span(at..input.len()))
        {
            triggered.extend(RULES.triggers[hit.pattern().as_usize()].iter().copied());
            at = hit.start() + 1;
        }
        triggered
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn the_prefilter_triggers_every_rule_an_overlapping_search_would(
            picks in proptest::collection::vec((0usize..10_000, 0usize..8, any::<bool>(), "[a-zA-Z0-9_ .:/-]{0,3}"), 1..12)
        ) {
            let keywords: Vec<&String> = RULES.rules().iter().flat_map(|r| &r.keywords).collect();
            let mut input = String::new();
            for (pick, cut, upper, glue) in picks {
                let keyword = keywords[pick % keywords.len()];
                // Overlap keywords by dropping a few leading bytes of the next one.
                let keyword = keyword.get(cut.min(keyword.len())..).unwrap_or(keyword);
                input.push_str(&if upper { keyword.to_ascii_uppercase() } else { keyword.to_string() });
                input.push_str(&glue);
            }
            prop_assert_eq!(triggered(input.as_bytes()), reference(input.as_bytes()));
        }
    }
}
