//! Shared machinery of the log generators: the time line, fast time and id formatting, record
//! framing (JSON lines or one JSON array) and the merge of background and planted events.

use std::io::{self, Write};

use crate::Rng;

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
pub(super) const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
pub(super) const fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub(super) const SECOND: i64 = 1000;
pub(super) const MINUTE: i64 = 60 * SECOND;
pub(super) const HOUR: i64 = 60 * MINUTE;
pub(super) const DAY: i64 = 24 * HOUR;

/// Milliseconds since the epoch of midnight UTC on a civil date.
pub(super) const fn date_ms(y: i64, m: i64, d: i64) -> i64 {
    days_from_civil(y, m, d) * DAY
}

/// `crate::REFERENCE_NOW` in epoch milliseconds.
pub(super) const NOW_MS: i64 = date_ms(2026, 6, 1);
/// The start of the generated logs: 30 days before the reference time.
pub(super) const START_MS: i64 = NOW_MS - 30 * DAY;
/// `super::COMPROMISED_AT` in epoch milliseconds.
pub(super) const COMPROMISED_MS: i64 = date_ms(2026, 5, 22);
/// `super::PATCHED_AT` in epoch milliseconds.
pub(super) const PATCHED_MS: i64 = date_ms(2026, 5, 26);

/// A timestamp from epoch milliseconds.
pub(super) fn timestamp(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// SplitMix64's finaliser: a bijection of `u64`, used to derive stable ids from salts.
pub(super) const fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable hash of a string and a salt (FNV-1a, then mixed).
pub(super) fn hash_str(salt: u64, text: &str) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325u64 ^ salt;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    mix(h)
}

const MASK48: u64 = (1 << 48) - 1;

/// A bijection of 48-bit numbers: distinct inputs give distinct, random-looking outputs.
pub(super) const fn scramble48(mut x: u64) -> u64 {
    x &= MASK48;
    x ^= x >> 24;
    x = x.wrapping_mul(0x9E37_79B9_7F4B) & MASK48;
    x ^= x >> 23;
    x = x.wrapping_mul(0xC2B2_AE3D_27D5) & MASK48;
    x ^= x >> 24;
    x
}

const HEX: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Pushes the low `digits` hex digits of `v`, most significant first.
pub(super) fn push_hex(buf: &mut String, v: u64, digits: u32) {
    for i in (0..digits).rev() {
        buf.push(char::from(HEX[((v >> (i * 4)) & 0xF) as usize]));
    }
}

/// Pushes `digits` upper-case hex digits of `v`.
pub(super) fn push_hex_upper(buf: &mut String, v: u64, digits: u32) {
    for i in (0..digits).rev() {
        buf.push(char::from(HEX_UPPER[((v >> (i * 4)) & 0xF) as usize]));
    }
}

/// Pushes `n` base62 characters drawn from `h` (re-mixed every 10 characters).
pub(super) fn push_base62(buf: &mut String, mut h: u64, n: usize) {
    let mut left = h;
    for i in 0..n {
        if i > 0 && i % 10 == 0 {
            h = mix(h);
            left = h;
        }
        buf.push(char::from(BASE62[(left % 62) as usize]));
        left /= 62;
    }
}

/// An AWS-shaped key id: `prefix` + 16 characters of `[A-Z2-7]` from `h`. An id, not a secret.
pub(super) fn aws_key_id(prefix: &str, h: u64) -> String {
    let mut s = String::with_capacity(20);
    s.push_str(prefix);
    let (a, b) = (mix(h), mix(h ^ 0x5EED));
    let bits = (u128::from(a) << 16) | u128::from(b & 0xFFFF);
    for i in (0..16).rev() {
        s.push(char::from(BASE32[((bits >> (i * 5)) & 31) as usize]));
    }
    s
}

/// An AWS unique id (`AIDA…`, `AROA…`): `prefix` + 17 characters of `[A-Z2-7]`.
pub(super) fn aws_unique_id(prefix: &str, h: u64) -> String {
    let mut s = aws_key_id(prefix, mix(h ^ 0x1D1D_1D1D));
    s.push(char::from(BASE32[(mix(h ^ 0xA11D) % 32) as usize]));
    s
}

/// Pushes a uuid-shaped id whose first 48 bits are a bijection of `index` (so ids within one
/// stream never repeat) and whose other bits come from `r`.
pub(super) fn push_uuid(buf: &mut String, salt: u64, index: u64, r: u64, version: u8) {
    let head = scramble48(index.wrapping_add(salt));
    push_hex(buf, head >> 16, 8);
    buf.push('-');
    push_hex(buf, head & 0xFFFF, 4);
    buf.push('-');
    buf.push(char::from(HEX[usize::from(version & 0xF)]));
    push_hex(buf, r >> 52, 3);
    buf.push('-');
    buf.push(char::from(HEX[(8 + ((r >> 50) & 3)) as usize]));
    push_hex(buf, (r >> 38) & 0xFFF, 3);
    buf.push('-');
    push_hex(buf, mix(r) & 0xFFFF_FFFF_FFFF, 12);
}

/// Pushes a decimal number.
pub(super) fn push_u64(buf: &mut String, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        buf.push(char::from(d));
    }
}

/// Pushes a number below 100 as two digits.
pub(super) fn push_2(buf: &mut String, v: u32) {
    buf.push(char::from(b'0' + (v / 10) as u8));
    buf.push(char::from(b'0' + (v % 10) as u8));
}

/// Formats times fast, caching the date part of the last day seen.
#[derive(Debug, Default)]
pub(super) struct TimeFmt {
    day: i64,
    date: String,
}

impl TimeFmt {
    fn date(&mut self, day: i64) -> &str {
        if self.date.is_empty() || self.day != day {
            let (y, m, d) = civil_from_days(day);
            self.day = day;
            self.date.clear();
            push_u64(&mut self.date, y as u64);
            self.date.push('-');
            push_2(&mut self.date, m);
            self.date.push('-');
            push_2(&mut self.date, d);
        }
        &self.date
    }

    fn push_clock(buf: &mut String, ms: i64) {
        let secs = ms.rem_euclid(DAY) / SECOND;
        push_2(buf, (secs / 3600) as u32);
        buf.push(':');
        push_2(buf, (secs / 60 % 60) as u32);
        buf.push(':');
        push_2(buf, (secs % 60) as u32);
    }

    /// `2026-05-23T10:15:02Z`
    pub(super) fn push_secs(&mut self, buf: &mut String, ms: i64) {
        buf.push_str(self.date(ms.div_euclid(DAY)));
        buf.push('T');
        Self::push_clock(buf, ms);
        buf.push('Z');
    }

    /// `2026-05-23T10:15:02.123Z`
    pub(super) fn push_millis(&mut self, buf: &mut String, ms: i64) {
        buf.push_str(self.date(ms.div_euclid(DAY)));
        buf.push('T');
        Self::push_clock(buf, ms);
        buf.push('.');
        let frac = ms.rem_euclid(SECOND) as u32;
        buf.push(char::from(b'0' + (frac / 100) as u8));
        push_2(buf, frac % 100);
        buf.push('Z');
    }
}

/// `2026-05-23T10:15:02Z` for a one-off.
pub(super) fn iso_secs(ms: i64) -> String {
    let mut s = String::with_capacity(20);
    TimeFmt::default().push_secs(&mut s, ms);
    s
}

/// The STS expiration format: `May 23, 2026, 4:15:02 PM`.
pub(super) fn push_sts_expiration(buf: &mut String, ms: i64) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY));
    let secs = ms.rem_euclid(DAY) / SECOND;
    let hour = (secs / 3600) as u32;
    buf.push_str(MONTHS[(m - 1) as usize]);
    buf.push(' ');
    push_u64(buf, u64::from(d));
    buf.push_str(", ");
    push_u64(buf, y as u64);
    buf.push_str(", ");
    let hour12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    push_u64(buf, u64::from(hour12));
    buf.push(':');
    push_2(buf, (secs / 60 % 60) as u32);
    buf.push(':');
    push_2(buf, (secs % 60) as u32);
    buf.push_str(if hour < 12 { " AM" } else { " PM" });
}

/// Background event times: `n` times spread over [`START_MS`, [`NOW_MS`]), non-decreasing.
#[derive(Debug)]
pub(super) struct Timeline {
    n: u64,
    i: u64,
    rng: Rng,
}

impl Timeline {
    pub(super) fn new(n: u64, seed: u64) -> Self {
        Timeline {
            n,
            i: 0,
            rng: Rng::new(seed),
        }
    }

    /// The next background time, or `None` when all `n` are out.
    pub(super) fn next(&mut self) -> Option<i64> {
        if self.i >= self.n {
            return None;
        }
        let span = (NOW_MS - START_MS) as u128;
        let r = u128::from(self.rng.below(span as u64));
        let t = (u128::from(self.i) * span + r) / u128::from(self.n);
        self.i += 1;
        Some(START_MS + t as i64)
    }
}

/// One planted (attack or look-alike) event of a stream, before it is written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Spec {
    /// When it happens.
    pub(super) t: i64,
    /// The step name reported in the ground truth.
    pub(super) step: &'static str,
    /// The raw action name written into the record.
    pub(super) action: &'static str,
    /// Attack (true) or benign look-alike (false).
    pub(super) malicious: bool,
}

/// A source of records for [`drive`].
pub(super) trait Source {
    /// The planted events, in time order.
    fn specs(&self) -> &[Spec];
    /// Writes background record number `index` (its position in the stream) at time `t` into
    /// `buf`; returns the region index (CloudTrail) or 0.
    fn background(&mut self, index: u64, t: i64, buf: &mut String) -> usize;
    /// Writes planted record `spec` (an index into [`Source::specs`]) at stream position
    /// `index` into `buf`; returns the region index and the record's event id.
    fn planted(&mut self, spec: usize, index: u64, buf: &mut String) -> (usize, String);
}

/// Where records go: `emit(record, region, time, want_location)` returns, when asked, where the
/// record landed (a file path relative to the destination).
pub(super) type Emit<'a> = dyn FnMut(&str, usize, i64, bool) -> io::Result<Option<String>> + 'a;

/// Streams `total` records (at least every planted one) in time order, background and planted
/// merged; returns the planted events with their ids and locations.
pub(super) fn drive(
    source: &mut dyn Source,
    provider: &'static str,
    total: u64,
    seed: u64,
    emit: &mut Emit<'_>,
) -> io::Result<(u64, Vec<super::PlantedEvent>)> {
    let specs: Vec<Spec> = source.specs().to_vec();
    let background = total.saturating_sub(specs.len() as u64);
    let mut timeline = Timeline::new(background, seed ^ 0x7173_E11E);
    let mut next_bg = timeline.next();
    let mut next_spec = 0usize;
    let mut index = 0u64;
    let mut buf = String::with_capacity(4096);
    let mut planted = Vec::with_capacity(specs.len());
    loop {
        buf.clear();
        let take_spec = match (specs.get(next_spec), next_bg) {
            (Some(spec), Some(t)) => spec.t <= t,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_spec {
            let spec = specs[next_spec];
            let (region, id) = source.planted(next_spec, index, &mut buf);
            let location = emit(&buf, region, spec.t, true)?;
            planted.push(super::PlantedEvent {
                source: provider,
                event_id: id,
                step: spec.step,
                action: spec.action,
                time: timestamp(spec.t),
                malicious: spec.malicious,
                location,
            });
            next_spec += 1;
        } else if let Some(t) = next_bg {
            let region = source.background(index, t, &mut buf);
            emit(&buf, region, t, false)?;
            next_bg = timeline.next();
        }
        index += 1;
    }
    Ok((index, planted))
}

/// Counts the bytes written through it.
#[derive(Debug)]
pub(super) struct Counting<W> {
    pub(super) inner: W,
    pub(super) bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.inner.write_all(data)?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes records as JSON lines or as the elements of one JSON array.
#[derive(Debug)]
pub(super) struct Framer<W: Write> {
    pub(super) out: Counting<W>,
    array: bool,
    records: u64,
}

impl<W: Write> Framer<W> {
    pub(super) fn new(out: W, array: bool) -> Self {
        Framer {
            out: Counting {
                inner: out,
                bytes: 0,
            },
            array,
            records: 0,
        }
    }

    pub(super) fn record(&mut self, record: &str) -> io::Result<()> {
        if self.array {
            self.out
                .write_all(if self.records == 0 { b"[\n" } else { b",\n" })?;
            self.out.write_all(record.as_bytes())?;
        } else {
            self.out.write_all(record.as_bytes())?;
            self.out.write_all(b"\n")?;
        }
        self.records += 1;
        Ok(())
    }

    /// Closes the array (if any) and flushes; returns the bytes written.
    pub(super) fn finish(&mut self) -> io::Result<u64> {
        if self.array {
            self.out
                .write_all(if self.records == 0 { b"[]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()?;
        Ok(self.out.bytes)
    }
}

/// Picks one of `items` uniformly.
pub(super) fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[rng.below(items.len() as u64) as usize]
}

/// A private, documentation or benign test-range IPv4 address from a hash: 10.0.0.0/8,
/// 192.0.2.0/24 or 198.51.100.0/25 (never 198.51.100.128/25, never 203.0.113.0/24).
pub(super) fn benign_ip(h: u64) -> String {
    let h2 = mix(h);
    match h % 4 {
        0 | 1 => format!(
            "10.{}.{}.{}",
            h2 & 0xFF,
            (h2 >> 8) & 0xFF,
            1 + (h2 >> 16) % 254
        ),
        2 => format!("192.0.2.{}", 1 + (h2 >> 16) % 254),
        _ => format!("198.51.100.{}", 1 + (h2 >> 16) % 126),
    }
}

/// 1 to 3 fixed source addresses for one principal.
pub(super) fn ip_set(h: u64) -> Vec<String> {
    let n = 1 + (mix(h ^ 0x1B5) % 3) as usize;
    (0..n)
        .map(|i| benign_ip(mix(h ^ (0x1F00 + i as u64))))
        .collect()
}
