//! Any bytes through the whole matcher (prefilter, every built-in rule, validators, JWT, PEM and
//! certificate decoding) and the text sniffer: findings or nothing, never a panic.
#![no_main]

use std::sync::LazyLock;

use evict_model::FingerprintKey;
use evict_scan::{Engine, RuleSet};
use libfuzzer_sys::fuzz_target;

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    Engine::new(
        RuleSet::builtin().expect("built-in rules load"),
        FingerprintKey::from_bytes([3; 32]),
        jiff::Timestamp::UNIX_EPOCH,
    )
});

fuzz_target!(|data: &[u8]| {
    let mut scratch = ENGINE.scratch();
    if let Ok(text) = evict_scan::tree::text_for_scanning(data) {
        let _ = ENGINE.scan(&text, 0, text.len(), &mut scratch);
    }
    let split = data.len() / 2;
    let _ = ENGINE.scan(data, split, data.len(), &mut scratch);
});
