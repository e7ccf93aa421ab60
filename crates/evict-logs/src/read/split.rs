//! The streaming record splitter: a byte-level scanner that finds each record of a log stream
//! (a `{"Records":[…]}` object, a bare array, concatenated objects, or JSON lines) in a buffer
//! that is fed block by block.
//!
//! It tracks strings, escapes and nesting depth only; it does not validate a record (that is
//! the parser's job), so a malformed record is still delimited and reported with its offset.
//! Every state survives a block boundary, so a record is never scanned twice.

use memchr::memchr;

use crate::record::find_quote_or_backslash;

/// Receives what the splitter finds. Positions are indexes into the scanned buffer.
pub(crate) trait SplitSink {
    /// A record's bytes are `buf[start..end]`; `line` is the 1-based line it starts on.
    fn record(&mut self, start: usize, end: usize, line: u64);
    /// Something was skipped or is wrong. `offset` is the absolute stream offset.
    fn problem(&mut self, category: &'static str, offset: u64, line: u64, reason: String);
}

pub(crate) const NOT_JSON: &str = "not JSON";
pub(crate) const NOT_OBJECT: &str = "record not a JSON object";
pub(crate) const TOO_LARGE: &str = "record larger than the size limit";
pub(crate) const BETWEEN: &str = "invalid JSON between records";
pub(crate) const TRUNCATED: &str = "truncated file";

/// Skips a string or a container, possibly across buffers.
#[derive(Debug, Clone, Copy, Default)]
struct Skip {
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl Skip {
    /// Advances from `i` (the value's first byte on the first call). `Ok(end)` is the index just
    /// after the value; `Err(len)` means the buffer ran out inside it.
    #[inline]
    fn run(&mut self, b: &[u8], mut i: usize, lines: &mut u64) -> Result<usize, usize> {
        loop {
            if self.in_string {
                if self.escaped {
                    if i >= b.len() {
                        return Err(b.len());
                    }
                    i += 1;
                    self.escaped = false;
                }
                match find_quote_or_backslash(b, i) {
                    None => return Err(b.len()),
                    Some(j) => {
                        i = j + 1;
                        if b[j] == b'\\' {
                            self.escaped = true;
                            continue;
                        }
                        self.in_string = false;
                        if self.depth == 0 {
                            return Ok(i);
                        }
                    }
                }
            } else {
                loop {
                    let Some(&c) = b.get(i) else {
                        return Err(b.len());
                    };
                    i += 1;
                    match c {
                        b'"' => {
                            self.in_string = true;
                            break;
                        }
                        b'{' | b'[' => self.depth = self.depth.saturating_add(1),
                        b'}' | b']' => {
                            self.depth = self.depth.saturating_sub(1);
                            if self.depth == 0 {
                                return Ok(i);
                            }
                        }
                        b'\n' => *lines += 1,
                        _ => {}
                    }
                }
            }
        }
    }
}

/// Where a value being skipped sits, which says what comes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// At the top level of the stream.
    Top,
    /// In a bare top-level array.
    Array,
    /// In the `Records` array of a wrapper object.
    Wrapper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayPhase {
    /// Just after `[`: a record or `]`.
    First,
    /// After `,`: a record (or `]` after a trailing comma).
    Next,
    /// After a record: `,` or `]`.
    CommaOrEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbePhase {
    KeyOrEnd,
    Key { start: usize },
    Colon { records: bool },
    Value { records: bool },
    InValue,
    Scalar,
    CommaOrEnd,
}

#[derive(Debug, Clone, Copy)]
struct Probe {
    phase: ProbePhase,
    skip: Skip,
    /// Index of `{` while the object may still be a record.
    start: usize,
    offset: u64,
    line: u64,
    /// A `Records` array was found: this object is a wrapper, not a record.
    wrapper: bool,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Between top-level values.
    Top,
    /// At the first level of a top-level object, looking for a `Records` array.
    Probe(Probe),
    /// Between the records of an array.
    Array { phase: ArrayPhase, ctx: Ctx },
    /// Inside a value (a record, or a non-object member being skipped).
    Value {
        skip: Skip,
        ctx: Ctx,
        start: usize,
        offset: u64,
        line: u64,
        /// What the value is when it is not an object (it is skipped when it ends).
        not_object: Option<&'static str>,
        /// Over the size limit: its bytes are no longer kept.
        discard: bool,
    },
    /// Inside a number or literal member.
    Scalar {
        ctx: Ctx,
        offset: u64,
        line: u64,
        what: &'static str,
    },
    /// After the first top-level record: is the file JSON lines?
    DecideLines,
    /// JSON lines: at the start of a line, or inside one that began at `start`.
    Lines {
        start: usize,
        offset: u64,
        discard: bool,
    },
    /// A fatal problem: the rest is ignored.
    Stopped,
}

/// The splitter's state between buffers.
#[derive(Debug)]
pub(crate) struct Splitter {
    state: State,
    max_record: usize,
    /// Newlines before the scan position.
    lines: u64,
    /// Any non-whitespace byte seen.
    started: bool,
    /// A top-level object turned out to be a record: later ones are records without probing.
    plain_records: bool,
    /// A `Records` wrapper was seen (the log is CloudTrail).
    pub(crate) saw_wrapper: bool,
    /// Quietly skipping stray bytes after reporting the first of them.
    resyncing: bool,
    /// The wrapper object to return to when its `Records` array ends.
    wrapper_probe: Option<Probe>,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// How a value that starts with `b` is described in a message.
pub(crate) fn describe(b: u8) -> &'static str {
    match b {
        b'[' => "an array",
        b'{' => "an object",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "a number",
        _ => "a bare word",
    }
}

fn shown(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

fn ends_scalar(b: u8) -> bool {
    is_space(b) || matches!(b, b',' | b']' | b'}' | b'[' | b'{' | b'"')
}

impl Splitter {
    pub(crate) fn new(max_record: usize) -> Self {
        Splitter {
            state: State::Top,
            max_record,
            lines: 0,
            started: false,
            plain_records: false,
            saw_wrapper: false,
            resyncing: false,
            wrapper_probe: None,
        }
    }

    /// The first index the splitter still needs when the buffer is compacted, if any.
    pub(crate) fn retain_from(&self) -> Option<usize> {
        match self.state {
            State::Probe(p) if !p.wrapper => Some(p.start),
            State::Value {
                start,
                not_object: None,
                discard: false,
                ..
            } => Some(start),
            State::Lines {
                start,
                discard: false,
                ..
            } => Some(start),
            _ => None,
        }
    }

    /// The offset of a record left unfinished at the end of the stream, if any.
    pub(crate) fn pending_record(&self, buf: &[u8]) -> Option<u64> {
        match self.state {
            State::Probe(p) if !p.wrapper => Some(p.offset),
            State::Value {
                offset,
                not_object: None,
                ..
            } => Some(offset),
            State::Lines {
                start,
                offset,
                discard,
            } => (discard
                || buf
                    .get(start..)
                    .is_some_and(|l| l.iter().any(|&b| !is_space(b))))
            .then_some(offset),
            _ => None,
        }
    }

    /// The buffer lost its first `by` bytes: shifts the kept indexes.
    pub(crate) fn rebase(&mut self, by: usize) {
        match &mut self.state {
            State::Probe(p) => {
                p.start = p.start.saturating_sub(by);
                if let ProbePhase::Key { start } = &mut p.phase {
                    *start = start.saturating_sub(by);
                }
            }
            State::Value { start, .. } | State::Lines { start, .. } => {
                *start = start.saturating_sub(by);
            }
            _ => {}
        }
    }

    /// Whether a fatal problem stopped the splitter.
    pub(crate) fn stopped(&self) -> bool {
        matches!(self.state, State::Stopped)
    }

    /// Whether any non-whitespace byte was seen.
    pub(crate) fn started(&self) -> bool {
        self.started
    }

    /// Scans `buf[pos..]`; `base` is the stream offset of `buf[0]`. Returns the new position.
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        mut pos: usize,
        base: u64,
        sink: &mut dyn SplitSink,
    ) -> usize {
        loop {
            while pos < buf.len() {
                pos = match self.state {
                    State::Stopped => return buf.len(),
                    State::Top => self.top(buf, pos, base, sink),
                    State::Probe(probe) => self.probe(probe, buf, pos, base, sink),
                    State::Array { phase, ctx } => self.array(phase, ctx, buf, pos, base, sink),
                    State::Value { .. } => self.value(buf, pos, sink),
                    State::Scalar { .. } => self.scalar(buf, pos, sink),
                    State::DecideLines => self.decide_lines(buf, pos, base),
                    State::Lines { .. } => self.lines(buf, pos, base, sink),
                };
            }
            match self.enforce_limit(buf) {
                Some(restart) => pos = restart,
                None => return pos,
            }
        }
    }

    /// The first object is still open: if what follows its first line looks like another
    /// record, the file is JSON lines whose first line is broken. Reads on as lines from there
    /// and returns where to rescan.
    fn lines_after_broken_first(&mut self, buf: &[u8]) -> Option<usize> {
        let State::Probe(p) = self.state else {
            return None;
        };
        let rest = buf.get(p.start..)?;
        let newline = memchr(b'\n', rest)?;
        let next = rest[newline..].iter().find(|&&b| !is_space(b))?;
        if p.wrapper || *next != b'{' {
            return None;
        }
        self.lines = p.line - 1;
        self.plain_records = true;
        self.state = State::Lines {
            start: p.start,
            offset: p.offset,
            discard: false,
        };
        Some(p.start)
    }

    /// A record still open at the end of `buf` that is over the limit stops being kept; a first
    /// object that turns out to be a broken first line of JSON lines is reread as lines (the
    /// index to rescan from is returned).
    fn enforce_limit(&mut self, buf: &[u8]) -> Option<usize> {
        let len = buf.len();
        let limit = self.max_record;
        if matches!(self.state, State::Probe(p) if !p.wrapper && len.saturating_sub(p.start) > limit)
            && let Some(restart) = self.lines_after_broken_first(buf)
        {
            return Some(restart);
        }
        match &mut self.state {
            State::Value {
                start,
                discard,
                not_object: None,
                ..
            }
            | State::Lines { start, discard, .. }
                if !*discard && len.saturating_sub(*start) > limit =>
            {
                *discard = true;
            }
            State::Probe(p) if !p.wrapper && len.saturating_sub(p.start) > limit => {
                // A first object this large is a record, not a wrapper: skip it as one.
                let mut skip = Skip {
                    depth: 1,
                    in_string: false,
                    escaped: false,
                };
                if matches!(p.phase, ProbePhase::Key { .. } | ProbePhase::InValue) {
                    skip.depth += p.skip.depth;
                    skip.in_string = p.skip.in_string;
                    skip.escaped = p.skip.escaped;
                }
                let (offset, line) = (p.offset, p.line);
                self.plain_records = true;
                self.state = State::Value {
                    skip,
                    ctx: Ctx::Top,
                    start: len,
                    offset,
                    line,
                    not_object: None,
                    discard: true,
                };
            }
            _ => {}
        }
        None
    }

    fn stray(&mut self, b: u8, offset: u64, context: &str, sink: &mut dyn SplitSink) {
        if !self.resyncing {
            sink.problem(
                BETWEEN,
                offset,
                self.lines + 1,
                format!("invalid JSON: unexpected {} {context}", shown(b)),
            );
            self.resyncing = true;
        }
    }

    fn top(&mut self, buf: &[u8], mut pos: usize, base: u64, sink: &mut dyn SplitSink) -> usize {
        while pos < buf.len() {
            let b = buf[pos];
            if is_space(b) {
                if b == b'\n' {
                    self.lines += 1;
                }
                pos += 1;
                continue;
            }
            if !self.started && base + pos as u64 == 0 && buf[pos..].starts_with(b"\xEF\xBB\xBF") {
                pos += 3; // UTF-8 byte-order mark
                continue;
            }
            let offset = base + pos as u64;
            match b {
                b'{' if self.plain_records => {
                    self.started = true;
                    self.resyncing = false;
                    self.state = State::Value {
                        skip: Skip::default(),
                        ctx: Ctx::Top,
                        start: pos,
                        offset,
                        line: self.lines + 1,
                        not_object: None,
                        discard: false,
                    };
                    return pos;
                }
                b'{' => {
                    self.started = true;
                    self.resyncing = false;
                    self.state = State::Probe(Probe {
                        phase: ProbePhase::KeyOrEnd,
                        skip: Skip::default(),
                        start: pos,
                        offset,
                        line: self.lines + 1,
                        wrapper: false,
                    });
                    return pos + 1;
                }
                b'[' => {
                    self.started = true;
                    self.resyncing = false;
                    self.state = State::Array {
                        phase: ArrayPhase::First,
                        ctx: Ctx::Array,
                    };
                    return pos + 1;
                }
                _ if !self.started => {
                    sink.problem(
                        NOT_JSON,
                        offset,
                        self.lines + 1,
                        format!(
                            "not JSON: the file starts with {} (expected '{{' or '[')",
                            shown(b)
                        ),
                    );
                    self.state = State::Stopped;
                    return buf.len();
                }
                _ => {
                    self.stray(b, offset, "between records", sink);
                    pos += 1;
                }
            }
        }
        pos
    }

    fn probe(
        &mut self,
        mut p: Probe,
        buf: &[u8],
        mut pos: usize,
        base: u64,
        sink: &mut dyn SplitSink,
    ) -> usize {
        while pos < buf.len() {
            let b = buf[pos];
            match p.phase {
                ProbePhase::KeyOrEnd
                | ProbePhase::Colon { .. }
                | ProbePhase::CommaOrEnd
                | ProbePhase::Value { .. }
                    if is_space(b) =>
                {
                    if b == b'\n' {
                        self.lines += 1;
                    }
                    pos += 1;
                }
                ProbePhase::KeyOrEnd if b == b'"' => {
                    p.phase = ProbePhase::Key { start: pos };
                    p.skip = Skip::default();
                    // The opening quote is consumed by the skipper.
                }
                ProbePhase::KeyOrEnd | ProbePhase::CommaOrEnd if b == b'}' => {
                    pos += 1;
                    return self.end_probe(p, pos, sink);
                }
                ProbePhase::CommaOrEnd if b == b',' => {
                    p.phase = ProbePhase::KeyOrEnd;
                    pos += 1;
                }
                ProbePhase::Key { start } => match p.skip.run(buf, pos, &mut self.lines) {
                    Ok(end) => {
                        let records = !p.wrapper && buf.get(start..end) == Some(b"\"Records\"");
                        p.phase = ProbePhase::Colon { records };
                        pos = end;
                    }
                    Err(end) => pos = end,
                },
                ProbePhase::Colon { records } if b == b':' => {
                    p.phase = ProbePhase::Value { records };
                    pos += 1;
                }
                ProbePhase::Value { records: true } if b == b'[' => {
                    p.wrapper = true;
                    self.saw_wrapper = true;
                    p.phase = ProbePhase::CommaOrEnd;
                    // The array's end returns to the rest of this object.
                    self.wrapper_probe = Some(p);
                    self.state = State::Array {
                        phase: ArrayPhase::First,
                        ctx: Ctx::Wrapper,
                    };
                    return pos + 1;
                }
                ProbePhase::Value { .. } => {
                    p.skip = Skip::default();
                    p.phase = if matches!(b, b'{' | b'[' | b'"') {
                        ProbePhase::InValue
                    } else {
                        ProbePhase::Scalar
                    };
                }
                ProbePhase::InValue => match p.skip.run(buf, pos, &mut self.lines) {
                    Ok(end) => {
                        p.phase = ProbePhase::CommaOrEnd;
                        pos = end;
                    }
                    Err(end) => pos = end,
                },
                ProbePhase::Scalar => {
                    if ends_scalar(b) {
                        p.phase = ProbePhase::CommaOrEnd;
                    } else {
                        pos += 1;
                    }
                }
                _ => {
                    // Malformed object.
                    return self.probe_malformed(p, b, pos, base, sink);
                }
            }
        }
        self.state = State::Probe(p);
        pos
    }

    fn end_probe(&mut self, p: Probe, end: usize, sink: &mut dyn SplitSink) -> usize {
        self.resyncing = false;
        if p.wrapper {
            self.state = State::Top;
            return end;
        }
        // A plain object: a record.
        let single_line = self.lines + 1 == p.line;
        if end - p.start > self.max_record {
            sink.problem(TOO_LARGE, p.offset, p.line, self.too_large());
        } else {
            sink.record(p.start, end, p.line);
        }
        self.plain_records = true;
        self.state = if single_line {
            State::DecideLines
        } else {
            State::Top
        };
        end
    }

    fn too_large(&self) -> String {
        format!(
            "record larger than {}: skipped",
            human_size(self.max_record)
        )
    }

    /// The first object is not valid JSON: fall back to JSON lines from its line on, so one
    /// broken line does not hide the rest of the file.
    fn probe_malformed(
        &mut self,
        p: Probe,
        b: u8,
        pos: usize,
        base: u64,
        sink: &mut dyn SplitSink,
    ) -> usize {
        if p.wrapper {
            sink.problem(
                BETWEEN,
                base + pos as u64,
                self.lines + 1,
                format!(
                    "invalid JSON after the Records array: unexpected {}; the rest of the file is ignored",
                    shown(b)
                ),
            );
            self.state = State::Stopped;
            return pos;
        }
        // Rewind to the object's start and read lines from there; the line count goes back to
        // where the object began.
        self.lines = p.line - 1;
        self.plain_records = true;
        self.state = State::Lines {
            start: p.start,
            offset: p.offset,
            discard: false,
        };
        p.start
    }

    fn array(
        &mut self,
        mut phase: ArrayPhase,
        ctx: Ctx,
        buf: &[u8],
        mut pos: usize,
        base: u64,
        sink: &mut dyn SplitSink,
    ) -> usize {
        while pos < buf.len() {
            let b = buf[pos];
            if is_space(b) {
                if b == b'\n' {
                    self.lines += 1;
                }
                pos += 1;
                continue;
            }
            let offset = base + pos as u64;
            match (phase, b) {
                (ArrayPhase::CommaOrEnd, b',') => {
                    self.resyncing = false;
                    phase = ArrayPhase::Next;
                    pos += 1;
                }
                (_, b']') => {
                    self.resyncing = false;
                    pos += 1;
                    self.state = match ctx {
                        Ctx::Wrapper => match self.wrapper_probe.take() {
                            Some(p) => State::Probe(p),
                            None => State::Top,
                        },
                        _ => State::Top,
                    };
                    return pos;
                }
                (ArrayPhase::CommaOrEnd, _) if !matches!(b, b'}' | b':' | b',') => {
                    // A missing comma: report it and read on as if it were there.
                    if !self.resyncing {
                        sink.problem(
                            BETWEEN,
                            offset,
                            self.lines + 1,
                            format!(
                                "invalid JSON: expected ',' or ']' after a record, found {}",
                                shown(b)
                            ),
                        );
                    }
                    phase = ArrayPhase::Next;
                }
                (_, b'}' | b':' | b',') => {
                    self.stray(b, offset, "between records", sink);
                    pos += 1;
                }
                (_, _) => {
                    self.resyncing = false;
                    self.state = State::Array {
                        phase: ArrayPhase::CommaOrEnd,
                        ctx,
                    };
                    return self.start_member(b, ctx, pos, offset);
                }
            }
        }
        self.state = State::Array { phase, ctx };
        pos
    }

    /// A member of an array starts at `pos` with byte `b`.
    fn start_member(&mut self, b: u8, ctx: Ctx, pos: usize, offset: u64) -> usize {
        let line = self.lines + 1;
        self.state = match b {
            b'{' | b'[' | b'"' => State::Value {
                skip: Skip::default(),
                ctx,
                start: pos,
                offset,
                line,
                not_object: (b != b'{').then(|| describe(b)),
                discard: false,
            },
            _ => State::Scalar {
                ctx,
                offset,
                line,
                what: describe(b),
            },
        };
        pos
    }

    /// Where scanning continues after a member of `ctx` ends.
    fn after_member(&mut self, ctx: Ctx) {
        self.state = match ctx {
            Ctx::Top => State::Top,
            Ctx::Array | Ctx::Wrapper => State::Array {
                phase: ArrayPhase::CommaOrEnd,
                ctx,
            },
        };
    }

    fn value(&mut self, buf: &[u8], pos: usize, sink: &mut dyn SplitSink) -> usize {
        let State::Value {
            mut skip,
            ctx,
            start,
            offset,
            line,
            not_object,
            discard,
        } = self.state
        else {
            return pos;
        };
        match skip.run(buf, pos, &mut self.lines) {
            Ok(end) => {
                if let Some(what) = not_object {
                    sink.problem(
                        NOT_OBJECT,
                        offset,
                        line,
                        format!("not a JSON object ({what}): skipped"),
                    );
                } else if discard || end - start > self.max_record {
                    sink.problem(TOO_LARGE, offset, line, self.too_large());
                } else {
                    sink.record(start, end, line);
                }
                self.after_member(ctx);
                end
            }
            Err(end) => {
                if let State::Value { skip: s, .. } = &mut self.state {
                    *s = skip;
                }
                end
            }
        }
    }

    fn scalar(&mut self, buf: &[u8], mut pos: usize, sink: &mut dyn SplitSink) -> usize {
        let State::Scalar {
            ctx,
            offset,
            line,
            what,
        } = self.state
        else {
            return pos;
        };
        while pos < buf.len() && !ends_scalar(buf[pos]) {
            pos += 1;
        }
        if pos < buf.len() {
            sink.problem(
                NOT_OBJECT,
                offset,
                line,
                format!("not a JSON object ({what}): skipped"),
            );
            self.after_member(ctx);
        }
        pos
    }

    fn decide_lines(&mut self, buf: &[u8], mut pos: usize, base: u64) -> usize {
        while pos < buf.len() {
            match buf[pos] {
                b' ' | b'\t' | b'\r' => pos += 1,
                b'\n' => {
                    self.lines += 1;
                    self.state = State::Lines {
                        start: pos + 1,
                        offset: base + pos as u64 + 1,
                        discard: false,
                    };
                    return pos + 1;
                }
                _ => {
                    self.state = State::Top;
                    return pos;
                }
            }
        }
        pos
    }

    fn lines(&mut self, buf: &[u8], mut pos: usize, base: u64, sink: &mut dyn SplitSink) -> usize {
        let State::Lines {
            mut start,
            mut offset,
            mut discard,
        } = self.state
        else {
            return pos;
        };
        while let Some(k) = memchr(b'\n', &buf[pos..]) {
            let end = pos + k;
            self.line(buf, start, end, offset, discard, sink);
            self.lines += 1;
            pos = end + 1;
            start = pos;
            offset = base + pos as u64;
            discard = false;
        }
        self.state = State::Lines {
            start,
            offset,
            discard,
        };
        buf.len()
    }

    /// One complete line `buf[start..end]` (without its newline).
    fn line(
        &mut self,
        buf: &[u8],
        start: usize,
        end: usize,
        offset: u64,
        discard: bool,
        sink: &mut dyn SplitSink,
    ) {
        let line = self.lines + 1;
        if discard || end - start > self.max_record {
            sink.problem(TOO_LARGE, offset, line, self.too_large());
            return;
        }
        let bytes = &buf[start..end];
        let Some(first) = bytes.iter().position(|&b| !is_space(b)) else {
            return;
        };
        let last = bytes.iter().rposition(|&b| !is_space(b)).unwrap_or(first);
        if bytes[first] != b'{' {
            sink.problem(
                NOT_OBJECT,
                offset + first as u64,
                line,
                format!("not a JSON object ({}): skipped", describe(bytes[first])),
            );
            return;
        }
        sink.record(start + first, start + last + 1, line);
    }

    /// The stream ended at `buf.len()`. `cut` says it ended because of a read error (already
    /// reported), so an unfinished record is not reported again.
    pub(crate) fn finish(&mut self, buf: &[u8], base: u64, cut: bool, sink: &mut dyn SplitSink) {
        if !cut && let Some(restart) = self.lines_after_broken_first(buf) {
            self.lines(buf, restart, base, sink);
        }
        let end_offset = base + buf.len() as u64;
        let line = self.lines + 1;
        match self.state {
            State::Top | State::DecideLines | State::Stopped => {}
            State::Lines {
                start,
                discard,
                offset,
            } => {
                if cut {
                    // The cut-off line is named in the read error's message.
                } else if discard {
                    sink.problem(TOO_LARGE, offset, line, self.too_large());
                } else if start < buf.len() {
                    self.line(buf, start, buf.len(), offset, false, sink);
                }
            }
            State::Scalar {
                offset, line, what, ctx,
            } => {
                sink.problem(
                    NOT_OBJECT,
                    offset,
                    line,
                    format!("not a JSON object ({what}): skipped"),
                );
                if ctx != Ctx::Top && !cut {
                    sink.problem(
                        TRUNCATED,
                        end_offset,
                        self.lines + 1,
                        "unexpected end of file: the array of records is not closed (the file may be truncated)".into(),
                    );
                }
            }
            _ if cut => {}
            State::Value { offset, line, .. } => sink.problem(
                TRUNCATED,
                offset,
                line,
                "unexpected end of file inside this record (the file may be truncated)".into(),
            ),
            State::Probe(p) if !p.wrapper => sink.problem(
                TRUNCATED,
                p.offset,
                p.line,
                "unexpected end of file inside this record (the file may be truncated)".into(),
            ),
            State::Probe(_) => sink.problem(
                TRUNCATED,
                end_offset,
                line,
                "unexpected end of file: the Records object is not closed (the file may be truncated)".into(),
            ),
            State::Array { .. } => sink.problem(
                TRUNCATED,
                end_offset,
                line,
                "unexpected end of file: the array of records is not closed (the file may be truncated)".into(),
            ),
        }
        self.state = State::Stopped;
    }
}

/// `64 MiB`, `512 KiB`, `100 bytes`.
pub(crate) fn human_size(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}
