//! One JSON-lines inventory record of any text: parsed or rejected with a reason.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &str| {
    let _ = evict_store::import::inventory_file::parse_json_line(line);
});
