//! `.evictignore` of any text: parsed, or refused naming the line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(list) = evict_scan::IgnoreList::parse(".evictignore", text) {
        let _ = list.ignores_path("a/b.txt");
        let _ = list.ignores_finding("rule", "0123456789abcdef");
    }
});
