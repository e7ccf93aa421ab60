//! A mapping file for `evict hunt --source jsonl` is outside input: any text must parse or be
//! refused with a message naming the file, never panic.
#![no_main]

use evict_logs::normalize::Mapping;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = Mapping::parse(text, "fuzz.yml") {
            assert!(e.to_string().contains("fuzz.yml"));
        }
    }
});
