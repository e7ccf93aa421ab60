//! CSV records of any bytes: the record reader, field splitting, and both CSV layouts (the
//! credential report and the generic inventory) must reject, never panic.
#![no_main]

use evict_store::import::credential_report::ReportLayout;
use evict_store::import::inventory_file::CsvLayout;
use evict_store::import::records::{RecordReader, split_csv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = RecordReader::new(data, true, 4096);
    let mut header: Option<Vec<String>> = None;
    let (mut out, mut ends) = (Vec::new(), Vec::new());
    while let Some((_, record)) = reader.next_record() {
        let Ok(record) = record else { continue };
        split_csv(record.bytes, &mut out, &mut ends);
        let Ok(text) = std::str::from_utf8(&out) else { continue };
        let mut fields = Vec::new();
        let mut start = 0;
        for &end in &ends {
            fields.push(text.get(start..end).unwrap_or(""));
            start = end;
        }
        match &header {
            None => header = Some(fields.iter().map(|f| f.to_string()).collect()),
            Some(names) => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                if let Ok((layout, _)) = ReportLayout::from_header(&names) {
                    let _ = layout.parse_row(&fields);
                }
                if let Ok(layout) = CsvLayout::from_header(&names) {
                    let _ = layout.parse_row(&fields);
                }
            }
        }
    }
});
