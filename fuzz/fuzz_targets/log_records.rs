//! Any bytes as a log stream: split into records (with block boundaries anywhere), each record
//! parsed lazily and normalised as every source, never a panic or a hang; every offset points at
//! its record; and wherever serde_json accepts a record, the lazy record answers rsigma exactly
//! as `JsonEvent` does.
#![no_main]

use std::sync::LazyLock;

use evict_logs::normalize::{Mapping, Normalizer};
use evict_logs::read::{ReadOptions, SourceKind, read_stream};
use evict_logs::record::LazyRecord;
use evict_model::RawPointer;
use libfuzzer_sys::fuzz_target;
use rsigma_eval::{Event as _, JsonEvent};

static NORMALIZER: LazyLock<Normalizer> = LazyLock::new(|| {
    let mapping = Mapping::parse(
        "provider: fuzz\ntime: ts\naction: a.b\nactor: u\ncredential: k\nsource: ip\noutcome: r\n",
        "fuzz.yml",
    )
    .expect("mapping parses");
    Normalizer::new(Some(mapping))
});

fn check_record(bytes: &[u8]) {
    let Ok(record) = LazyRecord::parse(bytes) else {
        return;
    };
    for kind in SourceKind::ALL {
        let pointer = RawPointer {
            file: "fuzz".into(),
            offset: 0,
        };
        let _ = NORMALIZER.normalize(kind, &record, pointer);
    }
    let mut strings = 0usize;
    record.visit_string_values(&mut |s| strings += s.len());
    let _ = record.get("a.b.0.c");
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    let json = JsonEvent::borrow(&value);
    let mut paths: Vec<String> = vec!["a".into(), "a.b".into(), "a.b[0]".into(), "a[-1].b".into()];
    if let Some(map) = value.as_object() {
        for (key, nested) in map.iter().take(16) {
            paths.push(key.clone());
            if let Some(inner) = nested.as_object() {
                paths.extend(inner.keys().take(8).map(|k| format!("{key}.{k}")));
            }
            if let Some(items) = nested.as_array() {
                paths.push(format!("{key}[0]"));
                for item in items.iter().take(4) {
                    if let Some(inner) = item.as_object() {
                        paths.extend(inner.keys().take(4).map(|k| format!("{key}.{k}")));
                    }
                }
            }
        }
    }
    for path in &paths {
        assert_eq!(
            record.get_field(path),
            json.get_field(path),
            "path {path:?}"
        );
    }
    let mut json_strings = 0usize;
    json.visit_string_values(&mut |s| json_strings += s.len());
    assert_eq!(strings, json_strings);
}

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, body)) = data.split_first() else {
        return;
    };
    let options = ReadOptions {
        block_size: 1 + usize::from(knobs & 0x3f),
        batch_bytes: 256,
        batch_records: 1 + usize::from(knobs >> 6),
        max_record: 4096,
    };
    let kind = match knobs % 5 {
        0 => None,
        k => Some(SourceKind::ALL[usize::from(k - 1)]),
    };
    let gzip = body.starts_with(&[0x1f, 0x8b]);
    let _ = read_stream("fuzz", body, kind, &options, &mut |batch| {
        for record in batch.records() {
            if !gzip {
                let at = record.offset as usize;
                assert_eq!(&body[at..at + record.bytes.len()], record.bytes);
            }
            check_record(record.bytes);
        }
    });
    // The whole input as one record, too.
    check_record(body);
});
