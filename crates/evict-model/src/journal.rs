//! The evidence journal's hash chain, independent of where entries are stored.
//!
//! Each entry's hash is SHA-256 over the previous entry's hash and the canonical JSON of the
//! entry itself (sequence number included, so moving an entry breaks the chain as surely as
//! editing it). The first entry's previous hash is [`GENESIS`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The previous hash of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One journal entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When it was written (RFC 3339, UTC).
    pub at: String,
    /// What happened, e.g. `inventory.import`.
    pub kind: String,
    /// What it happened to (an id, a file), or empty.
    pub subject: String,
    /// Details, as canonical JSON text.
    pub body: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// JSON with object keys sorted and no whitespace: the same value always gives the same bytes,
/// whatever order its keys were built in.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The hash of an entry with these contents, chained to `prev_hash`.
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    at: &str,
    kind: &str,
    subject: &str,
    body: &str,
) -> String {
    let content = serde_json::json!({
        "seq": seq, "at": at, "kind": kind, "subject": subject, "body": body,
    });
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_json(&content).as_bytes());
    hex::encode(hasher.finalize())
}

/// Where and why the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("journal entry {seq} is broken: {reason}")]
pub struct ChainBreak {
    /// The first entry that does not verify (or the position where one is missing).
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// Checks a chain one entry at a time, in stored order, so a journal of any length can be
/// verified in pages without holding it in memory.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev: GENESIS.to_string(),
        }
    }
}

impl ChainVerifier {
    /// Checks the next entry.
    pub fn push(&mut self, entry: &Entry) -> Result<(), ChainBreak> {
        let expected_seq = self.expected_seq;
        if entry.seq != expected_seq {
            return Err(ChainBreak {
                seq: expected_seq,
                reason: if entry.seq > expected_seq {
                    format!(
                        "entry {expected_seq} is missing (next stored entry is {})",
                        entry.seq
                    )
                } else {
                    format!("entry {} appears out of order", entry.seq)
                },
            });
        }
        if entry.prev_hash != self.prev {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: "its previous-hash does not match the entry before it (entries removed, reordered or replaced)".into(),
            });
        }
        let recomputed = entry_hash(
            &entry.prev_hash,
            entry.seq,
            &entry.at,
            &entry.kind,
            &entry.subject,
            &entry.body,
        );
        if recomputed != entry.hash {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: "its contents do not match its hash (the entry was edited)".into(),
            });
        }
        self.prev.clone_from(&entry.hash);
        self.expected_seq += 1;
        Ok(())
    }

    /// Ends the walk: compares what was seen with the separately stored head (seq, hash) of
    /// the last entry written, which catches a deleted tail that the chain alone cannot show.
    /// Returns the number of entries and the head hash.
    pub fn finish(self, head: Option<(i64, &str)>) -> Result<(i64, String), ChainBreak> {
        let count = self.expected_seq - 1;
        match head {
            None if count == 0 => Ok((0, self.prev)),
            None => Err(ChainBreak {
                seq: count,
                reason: "the journal head record is missing".into(),
            }),
            Some((head_seq, _)) if head_seq != count => Err(ChainBreak {
                seq: count + 1,
                reason: if head_seq > count {
                    format!(
                        "the head says {head_seq} entries were written but {count} remain (entries after {count} were removed)"
                    )
                } else {
                    format!("the head says {head_seq} entries were written but {count} are stored")
                },
            }),
            Some((_, head_hash)) if head_hash != self.prev => Err(ChainBreak {
                seq: count,
                reason: "the last entry's hash does not match the journal head".into(),
            }),
            Some(_) => Ok((count, self.prev)),
        }
    }
}

/// Walks a whole chain; see [`ChainVerifier`].
pub fn verify_chain<I>(entries: I, head: Option<(i64, &str)>) -> Result<(i64, String), ChainBreak>
where
    I: IntoIterator<Item = Entry>,
{
    let mut verifier = ChainVerifier::default();
    for entry in entries {
        verifier.push(&entry)?;
    }
    verifier.finish(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain(bodies: &[&str]) -> Vec<Entry> {
        let mut prev = GENESIS.to_string();
        bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let seq = i as i64 + 1;
                let hash = entry_hash(&prev, seq, "2026-01-01T00:00:00Z", "test", "s", body);
                let entry = Entry {
                    seq,
                    at: "2026-01-01T00:00:00Z".into(),
                    kind: "test".into(),
                    subject: "s".into(),
                    body: body.to_string(),
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                entry
            })
            .collect()
    }

    fn head(entries: &[Entry]) -> Option<(i64, &str)> {
        entries.last().map(|e| (e.seq, e.hash.as_str()))
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[{"y":1,"x":2}],"c":"é"}}"#).unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":"é","d":[{"x":2,"y":1}]},"b":1}"#
        );
    }

    #[test]
    fn an_intact_chain_verifies() {
        let entries = chain(&["{}", "{\"n\":1}", "{\"n\":2}"]);
        let (count, hash) = verify_chain(entries.clone(), head(&entries)).unwrap();
        assert_eq!(count, 3);
        assert_eq!(hash, entries[2].hash);
        assert_eq!(verify_chain(Vec::new(), None).unwrap().0, 0);
    }

    #[test]
    fn edits_deletions_reorders_and_truncation_are_caught() {
        let entries = chain(&["{}", "{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]);
        let h = (entries[3].seq, entries[3].hash.clone());
        let head = Some((h.0, h.1.as_str()));

        let mut edited = entries.clone();
        edited[1].body = "{\"n\":9}".into();
        assert_eq!(verify_chain(edited, head).unwrap_err().seq, 2);

        let mut deleted = entries.clone();
        deleted.remove(1);
        assert_eq!(verify_chain(deleted, head).unwrap_err().seq, 2);

        let mut swapped = entries.clone();
        swapped.swap(1, 2);
        (swapped[1].seq, swapped[2].seq) = (2, 3);
        assert_eq!(verify_chain(swapped, head).unwrap_err().seq, 2);

        let truncated = entries[..3].to_vec();
        assert_eq!(verify_chain(truncated, head).unwrap_err().seq, 4);
    }

    proptest! {
        #[test]
        fn any_single_body_edit_is_caught(bodies in proptest::collection::vec("[a-z]{0,8}", 1..12), pick in 0usize..12, junk in "[A-Z]{1,4}") {
            let owned: Vec<String> = bodies.iter().map(|b| format!("{{\"v\":\"{b}\"}}")).collect();
            let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
            let entries = chain(&refs);
            let last = entries.last().unwrap().clone();
            let i = pick % entries.len();
            let mut edited = entries.clone();
            edited[i].body = format!("{{\"v\":\"{junk}\"}}");
            let err = verify_chain(edited, Some((last.seq, &last.hash))).unwrap_err();
            prop_assert_eq!(err.seq, i as i64 + 1);
        }
    }
}
