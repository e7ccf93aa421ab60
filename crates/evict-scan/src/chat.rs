//! Chat and ticket exports, where a secret's location is the message: a Slack export folder,
//! and JSON lines of messages read through a field mapping.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use evict_model::Location;
use serde_json::Value;

use crate::findings::InputKind;
use crate::tree::Sink;

/// A day file of a Slack export is read whole; larger ones are skipped with a reason.
const MAX_DAY_FILE: u64 = 256 << 20;
/// Longest JSON line of a message export.
const MAX_LINE: usize = 16 << 20;

/// Which fields of a JSON-lines message export hold what (dotted paths, e.g. `message.body`).
#[derive(Debug, Clone)]
pub struct FieldMap {
    /// The message text (required).
    pub text: String,
    /// Message id.
    pub id: Option<String>,
    /// Channel, conversation or ticket.
    pub channel: Option<String>,
    /// Author.
    pub author: Option<String>,
}

impl FieldMap {
    /// Parses `text=body`, `id=ts`, `channel=room.name`, `author=user` pairs.
    pub fn parse(pairs: &[String]) -> Result<FieldMap, String> {
        let mut map = FieldMap {
            text: "text".into(),
            id: None,
            channel: None,
            author: None,
        };
        for pair in pairs {
            let (field, path) = pair
                .split_once('=')
                .ok_or_else(|| format!("--map '{pair}': expected FIELD=PATH, e.g. text=body"))?;
            let path = path.trim().to_string();
            match field.trim() {
                "text" => map.text = path,
                "id" => map.id = Some(path),
                "channel" => map.channel = Some(path),
                "author" => map.author = Some(path),
                other => {
                    return Err(format!(
                        "--map '{pair}': unknown field '{other}' (fields: text, id, channel, author)"
                    ));
                }
            }
        }
        Ok(map)
    }
}

fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Scans a JSON-lines export of messages; lines that are not JSON objects are skipped with
/// file:line and reason.
pub fn scan_message_lines(sink: Sink<'_>, file: &Path, map: &FieldMap) {
    let shown = file.display().to_string();
    let mut reader = match File::open(file) {
        Ok(f) => BufReader::with_capacity(1 << 20, f),
        Err(e) => {
            sink.collector.skip(&shown, format!("unreadable: {e}"));
            return;
        }
    };
    let mut scratch = sink.engine.scratch();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        number += 1;
        match (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => break,
            Ok(_) if line.len() > MAX_LINE && !line.ends_with(b"\n") => {
                sink.collector.skip(
                    format!("{shown}:{number}"),
                    format!("line longer than {} MiB: skipped", MAX_LINE >> 20),
                );
                // Drain the rest of the long line.
                let mut rest = Vec::new();
                if reader.read_until(b'\n', &mut rest).is_err() {
                    break;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                sink.collector
                    .skip(format!("{shown}:{number}"), format!("read failed: {e}"));
                break;
            }
        }
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        let message: Value = match serde_json::from_slice(trimmed) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                sink.collector
                    .skip(format!("{shown}:{number}"), "not a JSON object: skipped");
                continue;
            }
            Err(e) => {
                sink.collector
                    .skip(format!("{shown}:{number}"), format!("invalid JSON: {e}"));
                continue;
            }
        };
        let Some(text) = lookup(&message, &map.text).and_then(text_of) else {
            sink.collector.skip(
                format!("{shown}:{number}"),
                format!("no text at '{}': skipped", map.text),
            );
            continue;
        };
        let field = |path: &Option<String>| {
            path.as_ref()
                .and_then(|p| lookup(&message, p))
                .and_then(text_of)
        };
        let channel = field(&map.channel).unwrap_or_else(|| "-".into());
        let id = field(&map.id).unwrap_or_else(|| format!("line {number}"));
        let author = field(&map.author);
        sink.collector
            .count_input(InputKind::Message, text.len() as u64);
        sink.scan_bytes(text.as_bytes(), &mut scratch, |line, _| Location::Message {
            export: shown.clone(),
            channel: channel.clone(),
            message: id.clone(),
            author: author.clone(),
            line,
        });
    }
}

/// Scans a Slack export folder: `<channel>/<YYYY-MM-DD>.json` arrays of messages; the text,
/// attachments and file previews of each message are scanned.
pub fn scan_slack_export(sink: Sink<'_>, folder: &Path) {
    let shown = folder.display().to_string();
    let markers = [
        "channels.json",
        "users.json",
        "groups.json",
        "dms.json",
        "mpims.json",
    ];
    if !markers.iter().any(|m| folder.join(m).is_file()) {
        sink.collector.skip(
            &shown,
            "not a Slack export (no channels.json, users.json, groups.json, dms.json or mpims.json)",
        );
        return;
    }
    let mut channels: Vec<PathBuf> = match std::fs::read_dir(folder) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect(),
        Err(e) => {
            sink.collector.skip(&shown, format!("unreadable: {e}"));
            return;
        }
    };
    channels.sort();
    let mut scratch = sink.engine.scratch();
    for channel_dir in channels {
        let channel = channel_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut days: Vec<PathBuf> = std::fs::read_dir(&channel_dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "json"))
                    .collect()
            })
            .unwrap_or_default();
        days.sort();
        for day in days {
            let day_shown = day.display().to_string();
            if std::fs::metadata(&day).is_ok_and(|m| m.len() > MAX_DAY_FILE) {
                sink.collector.skip(
                    &day_shown,
                    format!("day file larger than {} MiB: skipped", MAX_DAY_FILE >> 20),
                );
                continue;
            }
            let messages: Vec<Value> = match std::fs::read(&day)
                .map_err(|e| e.to_string())
                .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
            {
                Ok(messages) => messages,
                Err(e) => {
                    sink.collector
                        .skip(&day_shown, format!("not a Slack day file: {e}"));
                    continue;
                }
            };
            for message in &messages {
                let ts = message
                    .get("ts")
                    .and_then(text_of)
                    .unwrap_or_else(|| "-".into());
                let author = message
                    .get("user")
                    .or_else(|| message.get("username"))
                    .and_then(text_of);
                let mut texts: Vec<&str> = Vec::new();
                if let Some(text) = message.get("text").and_then(Value::as_str) {
                    texts.push(text);
                }
                for list in ["attachments", "files"] {
                    for item in message
                        .get(list)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        for key in ["text", "fallback", "pretext", "preview", "plain_text"] {
                            if let Some(text) = item.get(key).and_then(Value::as_str) {
                                texts.push(text);
                            }
                        }
                    }
                }
                let size: usize = texts.iter().map(|t| t.len()).sum();
                sink.collector.count_input(InputKind::Message, size as u64);
                for text in texts {
                    sink.scan_bytes(text.as_bytes(), &mut scratch, |line, _| Location::Message {
                        export: shown.clone(),
                        channel: channel.clone(),
                        message: ts.clone(),
                        author: author.clone(),
                        line,
                    });
                }
            }
        }
    }
}
