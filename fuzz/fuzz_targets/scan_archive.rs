//! Any bytes as a .zip, .tgz, .tar or .gz file: entered within the budget or skipped with a
//! reason, never a panic or a hang.
#![no_main]

use std::sync::LazyLock;

use evict_model::FingerprintKey;
use evict_scan::{Collector, Engine, IgnoreList, RuleSet, Sink, TreeOptions, scan_path};
use libfuzzer_sys::fuzz_target;

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    Engine::new(
        RuleSet::builtin().expect("built-in rules load"),
        FingerprintKey::from_bytes([3; 32]),
        jiff::Timestamp::UNIX_EPOCH,
    )
});

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else { return };
    let name = ["f.zip", "f.tgz", "f.tar", "f.gz"][usize::from(kind % 4)];
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, body).expect("write");
    let collector = Collector::default();
    let ignore = IgnoreList::default();
    let sink = Sink { engine: &ENGINE, collector: &collector, ignore: &ignore };
    let options = TreeOptions { archive_budget: 16 << 20, threads: 1, ..TreeOptions::default() };
    scan_path(sink, &path, &options);
});
