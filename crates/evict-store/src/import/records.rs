//! Splits a byte stream into records (CSV records, honouring quoted newlines, or plain lines)
//! with a cap on record length, so one 100 MB line costs a bounded buffer and one rejected
//! record, not the whole import.

use std::io::BufRead;

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record is longer than the cap; it was skipped up to the next line break.
    #[error("record is longer than {max} bytes ({len} bytes before the next line break); skipped")]
    TooLong {
        /// The cap.
        max: usize,
        /// The record's length.
        len: u64,
    },
    /// The input ended inside a quoted field.
    #[error("the file ends inside a quoted field (truncated file?)")]
    Unterminated,
    /// Reading failed.
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
}

/// One record: where it starts and its bytes (without the line break).
#[derive(Debug)]
pub struct RawRecord<'a> {
    /// 1-based line where the record starts.
    pub line: u64,
    /// Byte offset where the record starts.
    pub offset: u64,
    /// The record's bytes.
    pub bytes: &'a [u8],
}

/// Reads records one at a time from a buffered reader.
#[derive(Debug)]
pub struct RecordReader<R> {
    inner: R,
    csv_quotes: bool,
    max_len: usize,
    buf: Vec<u8>,
    next_line: u64,
    offset: u64,
}

impl<R: BufRead> RecordReader<R> {
    /// A reader of CSV records (`csv_quotes`: a newline inside `"…"` does not end a record)
    /// or of plain lines.
    pub fn new(inner: R, csv_quotes: bool, max_len: usize) -> Self {
        RecordReader {
            inner,
            csv_quotes,
            max_len,
            buf: Vec::new(),
            next_line: 1,
            offset: 0,
        }
    }

    /// Bytes consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.offset
    }

    /// The next non-blank record; `None` at the end of input. An error ends only that record:
    /// the reader is positioned at the next one.
    pub fn next_record(&mut self) -> Option<(u64, Result<RawRecord<'_>, RecordError>)> {
        loop {
            self.buf.clear();
            let line = self.next_line;
            let offset = self.offset;
            match self.fill_record() {
                Ok(false) => return None,
                Ok(true) => {
                    while matches!(self.buf.last(), Some(b'\r')) {
                        self.buf.pop();
                    }
                    if self.buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    return Some((
                        line,
                        Ok(RawRecord {
                            line,
                            offset,
                            bytes: &self.buf,
                        }),
                    ));
                }
                Err(e) => return Some((line, Err(e))),
            }
        }
    }

    /// Reads one record into `buf`. Ok(false) at the end of input.
    fn fill_record(&mut self) -> Result<bool, RecordError> {
        let mut in_quotes = false;
        // Set once the record is past the cap: from then on only its length is counted and
        // quotes no longer matter, so the next line break ends it.
        let mut overflow: Option<u64> = None;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if chunk.is_empty() {
                if !any {
                    return Ok(false);
                }
                if let Some(len) = overflow {
                    return Err(RecordError::TooLong {
                        max: self.max_len,
                        len,
                    });
                }
                if in_quotes {
                    return Err(RecordError::Unterminated);
                }
                return Ok(true);
            }
            any = true;
            let (consumed, finished) = if let Some(len) = overflow.as_mut() {
                match memchr::memchr(b'\n', chunk) {
                    Some(i) => {
                        self.next_line += 1;
                        *len += i as u64;
                        (i + 1, true)
                    }
                    None => {
                        *len += chunk.len() as u64;
                        (chunk.len(), false)
                    }
                }
            } else {
                // Look no further than one byte past the cap.
                let room = self.max_len - self.buf.len() + 1;
                let window = &chunk[..chunk.len().min(room)];
                let end = if self.csv_quotes {
                    find_csv_end(window, &mut in_quotes, &mut self.next_line)
                } else {
                    let end = memchr::memchr(b'\n', window);
                    self.next_line += u64::from(end.is_some());
                    end
                };
                match end {
                    Some(i) if self.buf.len() + i <= self.max_len => {
                        self.buf.extend_from_slice(&window[..i]);
                        (i + 1, true)
                    }
                    Some(i) => {
                        overflow = Some((self.buf.len() + i) as u64);
                        (i + 1, true)
                    }
                    None if self.buf.len() + window.len() > self.max_len => {
                        overflow = Some((self.buf.len() + window.len()) as u64);
                        self.buf.clear();
                        (window.len(), false)
                    }
                    None => {
                        self.buf.extend_from_slice(window);
                        (window.len(), false)
                    }
                }
            };
            self.inner.consume(consumed);
            self.offset += consumed as u64;
            if finished {
                return match overflow {
                    Some(len) => Err(RecordError::TooLong {
                        max: self.max_len,
                        len,
                    }),
                    None => Ok(true),
                };
            }
        }
    }
}

/// The first line break outside quotes, counting every line break seen up to it.
fn find_csv_end(window: &[u8], in_quotes: &mut bool, lines: &mut u64) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr2(b'"', b'\n', &window[from..]) {
        let at = from + i;
        if window[at] == b'"' {
            *in_quotes = !*in_quotes;
        } else {
            *lines += 1;
            if !*in_quotes {
                return Some(at);
            }
        }
        from = at + 1;
    }
    None
}

/// Splits one CSV record into fields (RFC 4180 quoting; `""` inside quotes is one `"`).
/// `out` receives the unescaped bytes and `ends` each field's end offset in `out`.
pub fn split_csv(record: &[u8], out: &mut Vec<u8>, ends: &mut Vec<usize>) {
    out.clear();
    ends.clear();
    let mut i = 0;
    loop {
        if record.get(i) == Some(&b'"') {
            i += 1;
            while i < record.len() {
                if record[i] == b'"' {
                    if record.get(i + 1) == Some(&b'"') {
                        out.push(b'"');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                out.push(record[i]);
                i += 1;
            }
            // Anything between the closing quote and the comma is kept, as most readers do.
            while i < record.len() && record[i] != b',' {
                out.push(record[i]);
                i += 1;
            }
        } else {
            let end = memchr::memchr(b',', &record[i..]).map_or(record.len(), |e| i + e);
            out.extend_from_slice(&record[i..end]);
            i = end;
        }
        ends.push(out.len());
        if i >= record.len() {
            break;
        }
        i += 1; // the comma
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn records(input: &[u8], csv: bool, max: usize) -> Vec<(u64, Result<String, String>)> {
        let mut reader = RecordReader::new(input, csv, max);
        let mut out = Vec::new();
        while let Some((line, r)) = reader.next_record() {
            out.push((
                line,
                r.map(|r| String::from_utf8_lossy(r.bytes).into_owned())
                    .map_err(|e| e.to_string()),
            ));
        }
        out
    }

    fn fields(record: &str) -> Vec<String> {
        let (mut out, mut ends) = (Vec::new(), Vec::new());
        split_csv(record.as_bytes(), &mut out, &mut ends);
        let mut start = 0;
        ends.iter()
            .map(|&e| {
                let f = String::from_utf8_lossy(&out[start..e]).into_owned();
                start = e;
                f
            })
            .collect()
    }

    #[test]
    fn quoted_newlines_stay_in_their_record_and_lines_are_counted() {
        let got = records(b"a,b\r\n\"x\ny\",z\n\nlast", true, 100);
        assert_eq!(got[0], (1, Ok("a,b".into())));
        assert_eq!(got[1], (2, Ok("\"x\ny\",z".into())));
        assert_eq!(got[2], (5, Ok("last".into())));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn an_overlong_record_is_skipped_and_reading_goes_on() {
        let mut input = b"ok1\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend(b"\"\nok2\n");
        let got = records(&input, true, 64);
        assert_eq!(got[0], (1, Ok("ok1".into())));
        assert_eq!(got[1].0, 2);
        assert!(
            got[1]
                .1
                .as_ref()
                .unwrap_err()
                .contains("longer than 64 bytes"),
            "{got:?}"
        );
        assert_eq!(got[2], (3, Ok("ok2".into())));
    }

    #[test]
    fn a_file_ending_inside_quotes_is_reported() {
        let got = records(b"a\n\"unterminated,b\n", true, 100);
        assert_eq!(got[1].0, 2);
        assert!(
            got[1]
                .1
                .as_ref()
                .unwrap_err()
                .contains("ends inside a quoted field")
        );
    }

    #[test]
    fn csv_fields_unescape_quotes() {
        assert_eq!(
            fields("a,\"b,c\",\"d\"\"e\",,"),
            vec!["a", "b,c", "d\"e", "", ""]
        );
        assert_eq!(fields(""), vec![""]);
    }

    proptest! {
        #[test]
        fn splitting_never_panics_and_lines_only_grow(input in proptest::collection::vec(any::<u8>(), 0..400), csv in any::<bool>(), max in 1usize..64) {
            let got = records(&input, csv, max);
            let mut last = 0;
            for (line, _) in got {
                prop_assert!(line > last);
                last = line;
            }
        }

        #[test]
        fn quoted_fields_round_trip(values in proptest::collection::vec("[ -~\n]{0,12}", 1..8)) {
            let record = values.iter().map(|v| format!("\"{}\"", v.replace('"', "\"\""))).collect::<Vec<_>>().join(",");
            prop_assert_eq!(fields(&record), values);
        }
    }
}
