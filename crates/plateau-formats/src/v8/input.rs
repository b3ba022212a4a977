//! A byte-level JSON tokenizer over a large refillable buffer, with exactly the operations the
//! V8 reader needs: flat unsigned-integer arrays at full speed, lenient string decoding
//! straight into a destination `String`, and generic streaming skipping of any value.

use std::fmt;
use std::io::{ErrorKind, Read};

use crate::error::{describe_byte, FormatError};

/// Where the tokenizer is, for error messages.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ctx<'k> {
    TopLevel,
    /// A flat integer array of records of `fields` numbers each (a `record`).
    Array {
        key: &'k str,
        fields: usize,
        record: &'static str,
    },
    /// The string of this index in the `strings` array.
    Strings {
        index: usize,
    },
    /// Any other value of a top-level key.
    Value {
        key: &'k str,
    },
}

impl fmt::Display for Ctx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Ctx::TopLevel => f.write_str("the top-level object"),
            Ctx::Array {
                key,
                fields,
                record,
            } if fields > 1 => write!(f, "{key:?} (expected {fields} fields per {record})"),
            Ctx::Array { key, .. } | Ctx::Value { key } => write!(f, "{key:?}"),
            Ctx::Strings { index } => write!(f, "\"strings\" (string {index})"),
        }
    }
}

/// Receives the complete records of a flat integer array: the first `fields` entries of
/// `rec` (index it with [`field`] to spare the bounds checks).
pub(crate) trait RecordSink {
    fn record(&mut self, rec: &[u64; MAX_FIELDS]) -> Result<(), RecordError>;
}

/// Reads field `index` of a record (the index is masked into range, which is free, instead
/// of checked).
#[inline(always)]
pub(crate) fn field(rec: &[u64; MAX_FIELDS], index: usize) -> u64 {
    rec[index % MAX_FIELDS]
}

/// A record-level failure; the tokenizer supplies the byte offset.
pub(crate) struct RecordError(Box<dyn FnOnce(u64) -> FormatError>);

impl RecordError {
    pub(crate) fn new(make: impl FnOnce(u64) -> FormatError + 'static) -> RecordError {
        RecordError(Box::new(make))
    }
}

/// Capturing of the raw bytes of one value (the small `snapshot` header).
struct Capture {
    bytes: Vec<u8>,
    /// Position in `buf` from which bytes have not yet been copied.
    from: usize,
}

/// The largest header the reader captures (real ones are about 2 KB).
const MAX_CAPTURE: usize = 64 << 20;

pub(crate) struct Input<'a> {
    reader: Box<dyn Read + 'a>,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Absolute offset of `buf[0]`.
    base: u64,
    eof: bool,
    capture: Option<Capture>,
    progress: &'a mut dyn FnMut(u64),
    /// Reports how many raw bytes the source has delivered (for progress).
    source_bytes: Box<dyn Fn() -> u64 + 'a>,
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

impl<'a> Input<'a> {
    pub(crate) fn new(
        reader: Box<dyn Read + 'a>,
        buffer_size: usize,
        progress: &'a mut dyn FnMut(u64),
        source_bytes: Box<dyn Fn() -> u64 + 'a>,
    ) -> Input<'a> {
        Input {
            reader,
            buf: vec![0; buffer_size.max(64)],
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            capture: None,
            progress,
            source_bytes,
        }
    }

    /// Absolute offset of the next unread byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Reads more input after the unread bytes; false at end of input.
    #[inline(never)]
    fn refill(&mut self) -> Result<bool, FormatError> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            if let Some(cap) = &mut self.capture {
                cap.bytes.extend_from_slice(&self.buf[cap.from..self.pos]);
                cap.from = 0;
                if cap.bytes.len() > MAX_CAPTURE {
                    return Err(FormatError::Meta {
                        field: "snapshot".into(),
                        problem: format!("the header is larger than {MAX_CAPTURE} bytes"),
                    });
                }
            }
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        let before = self.end;
        while self.end < self.buf.len() {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(FormatError::Io {
                        offset: self.base + self.end as u64,
                        source,
                    })
                }
            }
        }
        (self.progress)((self.source_bytes)());
        Ok(self.end > before)
    }

    /// Makes at least `n` unread bytes available; false if the input ends first.
    fn ensure(&mut self, n: usize) -> Result<bool, FormatError> {
        while self.end - self.pos < n {
            if !self.refill()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The first bytes of the input (for sniffing) without consuming them.
    pub(crate) fn peek_prefix(&mut self, n: usize) -> Result<&[u8], FormatError> {
        self.ensure(n)?;
        Ok(&self.buf[self.pos..self.end.min(self.pos + n)])
    }

    pub(crate) fn skip_bytes(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.end);
    }

    /// Skips whitespace; the next byte without consuming it, or `None` at end of input.
    pub(crate) fn peek_token(&mut self) -> Result<Option<u8>, FormatError> {
        loop {
            while self.pos < self.end {
                let b = self.buf[self.pos];
                if !is_ws(b) {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if !self.refill()? {
                return Ok(None);
            }
        }
    }

    /// Consumes the next non-whitespace byte, which must be `want`.
    pub(crate) fn expect(
        &mut self,
        want: u8,
        expected: &str,
        ctx: Ctx<'_>,
    ) -> Result<(), FormatError> {
        match self.peek_token()? {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            found => Err(self.unexpected(found, expected, ctx)),
        }
    }

    /// The error for finding `found` (None: end of input) where `expected` should be.
    pub(crate) fn unexpected(
        &self,
        found: Option<u8>,
        expected: &str,
        ctx: Ctx<'_>,
    ) -> FormatError {
        match found {
            None => FormatError::Truncated {
                offset: self.offset(),
                context: ctx.to_string(),
            },
            Some(b) => FormatError::Syntax {
                offset: self.offset(),
                context: ctx.to_string(),
                expected: expected.to_string(),
                found: describe_byte(Some(b)),
            },
        }
    }

    fn truncated(&self, ctx: Ctx<'_>) -> FormatError {
        FormatError::Truncated {
            offset: self.offset(),
            context: ctx.to_string(),
        }
    }

    /// Consumes one byte (already peeked).
    #[inline]
    pub(crate) fn bump(&mut self) {
        self.pos += 1;
    }

    /// Reads a JSON string whose opening quote has been consumed, appending its decoded
    /// contents to `out`. Lenient: invalid UTF-8 and lone surrogate escapes become U+FFFD.
    pub(crate) fn read_string(
        &mut self,
        out: &mut String,
        ctx: Ctx<'_>,
    ) -> Result<(), FormatError> {
        loop {
            if self.pos == self.end && !self.refill()? {
                return Err(self.truncated(ctx));
            }
            let slice = &self.buf[self.pos..self.end];
            match memchr::memchr2(b'"', b'\\', slice) {
                Some(j) => {
                    push_lossy(out, &slice[..j]);
                    let quote = slice[j] == b'"';
                    self.pos += j + 1;
                    if quote {
                        return Ok(());
                    }
                    self.escape(out, ctx)?;
                }
                None => {
                    let cut = utf8_safe_cut(slice);
                    push_lossy(out, &slice[..cut]);
                    self.pos += cut;
                    if self.pos < self.end && !self.refill()? {
                        // An incomplete UTF-8 sequence and then the end of the input.
                        self.pos = self.end;
                        return Err(self.truncated(ctx));
                    }
                }
            }
        }
    }

    /// Decodes the escape after a backslash.
    fn escape(&mut self, out: &mut String, ctx: Ctx<'_>) -> Result<(), FormatError> {
        if !self.ensure(1)? {
            return Err(self.truncated(ctx));
        }
        let c = self.buf[self.pos];
        self.pos += 1;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4(ctx)?;
                if (0xD800..0xDC00).contains(&unit) {
                    // A high surrogate: combine with an immediately following low one.
                    let mut ch = '\u{FFFD}';
                    if self.ensure(6)?
                        && self.buf[self.pos] == b'\\'
                        && self.buf[self.pos + 1] == b'u'
                    {
                        if let Some(low) = parse_hex4(&self.buf[self.pos + 2..self.pos + 6]) {
                            if (0xDC00..0xE000).contains(&low) {
                                let cp = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                                ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                                self.pos += 6;
                            }
                        }
                    }
                    ch
                } else {
                    char::from_u32(unit).unwrap_or('\u{FFFD}')
                }
            }
            other => {
                self.pos -= 1;
                return Err(FormatError::Syntax {
                    offset: self.offset(),
                    context: ctx.to_string(),
                    expected: "an escape (one of \"\\/bfnrtu)".into(),
                    found: describe_byte(Some(other)),
                });
            }
        };
        out.push(ch);
        Ok(())
    }

    fn hex4(&mut self, ctx: Ctx<'_>) -> Result<u32, FormatError> {
        if !self.ensure(4)? {
            self.pos = self.end;
            return Err(self.truncated(ctx));
        }
        match parse_hex4(&self.buf[self.pos..self.pos + 4]) {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => {
                let bad = self.buf[self.pos..self.pos + 4]
                    .iter()
                    .position(|b| !b.is_ascii_hexdigit())
                    .unwrap_or(0);
                self.pos += bad;
                Err(FormatError::Syntax {
                    offset: self.offset(),
                    context: ctx.to_string(),
                    expected: "four hex digits after \\u".into(),
                    found: describe_byte(Some(self.buf[self.pos])),
                })
            }
        }
    }

    /// Skips a string whose opening quote has been consumed.
    fn skip_string(&mut self, ctx: Ctx<'_>) -> Result<(), FormatError> {
        loop {
            if self.pos == self.end && !self.refill()? {
                return Err(self.truncated(ctx));
            }
            let slice = &self.buf[self.pos..self.end];
            match memchr::memchr2(b'"', b'\\', slice) {
                Some(j) => {
                    let quote = slice[j] == b'"';
                    self.pos += j + 1;
                    if quote {
                        return Ok(());
                    }
                    if !self.ensure(1)? {
                        return Err(self.truncated(ctx));
                    }
                    self.pos += 1;
                }
                None => self.pos = self.end,
            }
        }
    }

    /// Skips any JSON value, streaming (nested arrays and objects of any size, without
    /// buffering). Structure is checked (brackets must match); scalars are not validated.
    pub(crate) fn skip_value(&mut self, ctx: Ctx<'_>) -> Result<(), FormatError> {
        let first = self.peek_token()?;
        match first {
            None => Err(self.truncated(ctx)),
            Some(b'"') => {
                self.pos += 1;
                self.skip_string(ctx)
            }
            Some(b'[' | b'{') => {
                let mut stack: Vec<u8> = Vec::new();
                loop {
                    if self.pos == self.end && !self.refill()? {
                        return Err(self.truncated(ctx));
                    }
                    let b = self.buf[self.pos];
                    self.pos += 1;
                    match b {
                        b'"' => self.skip_string(ctx)?,
                        b'[' => stack.push(b']'),
                        b'{' => stack.push(b'}'),
                        b']' | b'}' => {
                            if stack.pop() != Some(b) {
                                self.pos -= 1;
                                let expected = match stack.last() {
                                    Some(b']') => "']'",
                                    _ => "'}'",
                                };
                                return Err(self.unexpected(Some(b), expected, ctx));
                            }
                            if stack.is_empty() {
                                return Ok(());
                            }
                        }
                        _ => {}
                    }
                }
            }
            Some(b) if is_scalar_byte(b) => loop {
                while self.pos < self.end {
                    if !is_scalar_byte(self.buf[self.pos]) {
                        return Ok(());
                    }
                    self.pos += 1;
                }
                if !self.refill()? {
                    return Ok(());
                }
            },
            Some(b) => Err(self.unexpected(Some(b), "a JSON value", ctx)),
        }
    }

    /// Skips a value while keeping a copy of its raw bytes (for the small header).
    pub(crate) fn capture_value(&mut self, ctx: Ctx<'_>) -> Result<Vec<u8>, FormatError> {
        self.peek_token()?;
        self.capture = Some(Capture {
            bytes: Vec::new(),
            from: self.pos,
        });
        let result = self.skip_value(ctx);
        let mut cap = self.capture.take().expect("capture was set above");
        result?;
        cap.bytes.extend_from_slice(&self.buf[cap.from..self.pos]);
        Ok(cap.bytes)
    }

    /// Reads a flat array of unsigned decimal integers whose `[` has been consumed, handing
    /// each complete record of `fields` numbers (at most [`MAX_FIELDS`]) to `sink`. Returns
    /// how many numbers it read.
    ///
    /// Two loops share one state: a fast one for the `,n,n\n,n` shape V8 writes, which runs
    /// while at least [`FAST_MARGIN`] bytes remain in the buffer (so nothing it looks at
    /// straddles a refill), and a byte-at-a-time one for everything else (buffer tails, other
    /// whitespace, numbers of 20 digits, errors).
    pub(crate) fn read_uint_array<S: RecordSink>(
        &mut self,
        ctx: Ctx<'_>,
        fields: usize,
        sink: &mut S,
    ) -> Result<u64, FormatError> {
        assert!(
            (1..=MAX_FIELDS).contains(&fields),
            "record width {fields} out of range"
        );
        let mut rec = [0u64; MAX_FIELDS];
        let mut field = 0usize;
        let mut records = 0u64;
        // The slow loop's number in progress.
        let mut acc = 0u64;
        let mut digits = 0u32;
        // After a number (a ',' or ']' must come), or expecting one.
        let mut need_comma = false;

        macro_rules! emit {
            ($value:expr, $at:expr) => {{
                rec[field % MAX_FIELDS] = $value;
                field += 1;
                if field == fields {
                    field = 0;
                    records += 1;
                    if let Err(RecordError(make)) = sink.record(&rec) {
                        return Err(make(self.base + $at as u64));
                    }
                }
            }};
        }

        loop {
            if self.pos == self.end && !self.refill()? {
                return Err(self.truncated(ctx));
            }
            let end = self.end;
            let mut i = self.pos;

            // Fast loop.
            if digits == 0 && i + FAST_MARGIN <= end {
                if !need_comma && self.buf[i].is_ascii_digit() {
                    // (20 digits or more are left to the slow loop.)
                    if let Some((value, n)) = parse_number_fast(&self.buf[i..i + FAST_MARGIN]) {
                        emit!(value, i + n);
                        i += n;
                        need_comma = true;
                    }
                }
                if need_comma {
                    while i + FAST_MARGIN <= end {
                        let mut b = self.buf[i];
                        if b == b'\n' {
                            i += 1;
                            b = self.buf[i];
                        }
                        if b != b',' || !self.buf[i + 1].is_ascii_digit() {
                            break;
                        }
                        match parse_number_fast(&self.buf[i + 1..i + 1 + FAST_MARGIN - 2]) {
                            Some((value, n)) => {
                                i += 1 + n;
                                emit!(value, i);
                            }
                            None => {
                                i += 1;
                                need_comma = false;
                                break;
                            }
                        }
                    }
                }
            }

            // Slow loop: at least one byte, until the fast loop can take over again.
            while i < end {
                let b = self.buf[i];
                let d = b.wrapping_sub(b'0');
                if d < 10 {
                    if digits == 0 && need_comma {
                        self.pos = i;
                        return Err(self.unexpected(Some(b), "',' or ']'", ctx));
                    }
                    match acc.checked_mul(10).and_then(|a| a.checked_add(d as u64)) {
                        Some(v) => acc = v,
                        None => {
                            return Err(FormatError::NumberTooLarge {
                                offset: self.base + i as u64,
                                context: ctx.to_string(),
                            })
                        }
                    }
                    digits += 1;
                    i += 1;
                    continue;
                }
                if digits != 0 {
                    emit!(acc, i);
                    acc = 0;
                    digits = 0;
                    need_comma = true;
                }
                let nothing_yet = records == 0 && field == 0;
                match b {
                    b',' if need_comma => need_comma = false,
                    b' ' | b'\n' | b'\r' | b'\t' => {}
                    b']' if need_comma || nothing_yet => {
                        self.pos = i + 1;
                        return Ok(records * fields as u64 + field as u64);
                    }
                    other => {
                        self.pos = i;
                        let expected = if need_comma {
                            "',' or ']'"
                        } else if nothing_yet {
                            "an unsigned integer or ']'"
                        } else {
                            "an unsigned integer"
                        };
                        return Err(self.unexpected(Some(other), expected, ctx));
                    }
                }
                i += 1;
                if i + FAST_MARGIN <= end {
                    break;
                }
            }
            self.pos = i;
        }
    }
}

/// The widest record [`Input::read_uint_array`] takes.
pub(crate) const MAX_FIELDS: usize = 64;

/// The number at the start of `bytes` (which starts with a digit and has at least 20 bytes):
/// `(value, digit count)`, or `None` for 20 digits or more (which may not fit in 64 bits).
#[inline(always)]
fn parse_number_fast(bytes: &[u8]) -> Option<(u64, usize)> {
    // Single digits are the most common numbers in node records.
    if !bytes[1].is_ascii_digit() {
        return Some(((bytes[0] - b'0') as u64, 1));
    }
    let first = load8(bytes, 0);
    let n = digit_count(first);
    if n < 8 {
        return Some((swar_value(first, n), n));
    }
    // 8 digits or more (node ids and edge targets of big heaps): a second chunk.
    let high = swar_value(first, 8);
    let second = load8(bytes, 8);
    let m = digit_count(second);
    if m < 8 {
        let low = if m == 0 { 0 } else { swar_value(second, m) };
        return Some((high * POW10[m] + low, 8 + m));
    }
    // 16 digits or more: the rest one by one, up to 19 in all.
    let mut v = high * POW10[8] + swar_value(second, 8);
    let mut j = 16;
    while j < 19 && bytes[j].is_ascii_digit() {
        v = v * 10 + (bytes[j] - b'0') as u64;
        j += 1;
    }
    if bytes[j].is_ascii_digit() {
        return None;
    }
    Some((v, j))
}

const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// Eight bytes from `at`, little-endian, `^ 0x30` (so digits become 0..=9).
#[inline(always)]
fn load8(bytes: &[u8], at: usize) -> u64 {
    let chunk: [u8; 8] = bytes[at..at + 8].try_into().expect("8 bytes");
    u64::from_le_bytes(chunk) ^ 0x3030_3030_3030_3030
}

/// How many of the 8 bytes (already `^ 0x30`) lead with digits.
#[inline(always)]
fn digit_count(v: u64) -> usize {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte set where the byte is not a digit (v >= 10, or non-ASCII).
    let non_digit = (((v & LO7) + 0x7676_7676_7676_7676) | v) & HIGH;
    (non_digit.trailing_zeros() / 8) as usize
}

/// The value of the first `n` (1..=8) digit bytes of `v` (already `^ 0x30`).
#[inline(always)]
fn swar_value(v: u64, n: usize) -> u64 {
    // Keep the n digits, moved to the top bytes (zero bytes below act as leading zeros).
    let mut x = v << (64 - 8 * n as u32);
    x = (x & 0x0f0f_0f0f_0f0f_0f0f).wrapping_mul(2561) >> 8;
    x = (x & 0x00ff_00ff_00ff_00ff).wrapping_mul(6_553_601) >> 16;
    (x & 0x0000_ffff_0000_ffff).wrapping_mul(42_949_672_960_001) >> 32
}

#[cfg(test)]
fn swar_digits(chunk: u64) -> Option<(u64, usize)> {
    let v = chunk ^ 0x3030_3030_3030_3030;
    let n = digit_count(v);
    (n < 8).then(|| (swar_value(v, n), n))
}

/// Bytes that must remain in the buffer for the fast integer loop: the longest number it
/// parses (19 digits) and the byte after it.
const FAST_MARGIN: usize = 32;

#[inline]
fn is_scalar_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
}

fn parse_hex4(bytes: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &b in bytes {
        v = v * 16 + (b as char).to_digit(16)?;
    }
    Some(v)
}

/// Appends bytes as UTF-8, each maximal invalid sequence replaced by U+FFFD (the same
/// replacement `String::from_utf8_lossy` makes).
#[inline]
fn push_lossy(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => {
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                if !chunk.invalid().is_empty() {
                    out.push('\u{FFFD}');
                }
            }
        }
    }
}

/// The length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence
/// which more bytes could complete.
fn utf8_safe_cut(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=3.min(len) {
        let b = bytes[len - back];
        if b & 0xC0 == 0x80 {
            continue; // continuation byte: look further back for the lead
        }
        let need = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if need > back { len - back } else { len };
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_cut() {
        assert_eq!(utf8_safe_cut(b"abc"), 3);
        assert_eq!(utf8_safe_cut("aé".as_bytes()), 3);
        assert_eq!(utf8_safe_cut(&"aé".as_bytes()[..2]), 1);
        assert_eq!(utf8_safe_cut(&"a😀".as_bytes()[..4]), 1);
        assert_eq!(utf8_safe_cut(&[0x80, 0x80, 0x80, 0x80]), 4);
    }

    #[test]
    fn swar() {
        let parse = |s: &[u8]| {
            let mut b = [b','; 8];
            b[..s.len()].copy_from_slice(s);
            swar_digits(u64::from_le_bytes(b))
        };
        assert_eq!(parse(b"0"), Some((0, 1)));
        assert_eq!(parse(b"7"), Some((7, 1)));
        assert_eq!(parse(b"42"), Some((42, 2)));
        assert_eq!(parse(b"1234567"), Some((1234567, 7)));
        assert_eq!(parse(b"9999999"), Some((9999999, 7)));
        assert_eq!(parse(b"12345678"), None);
        assert_eq!(parse(b"12\n,3"), Some((12, 2)));
        assert_eq!(parse(b"1\xff"), Some((1, 1)));
        assert_eq!(parse(b"1/"), Some((1, 1)));
        assert_eq!(parse(b"1:"), Some((1, 1)));
        for v in [
            0u64, 1, 9, 10, 99, 100, 1000, 65535, 123456, 999999, 1000000,
        ] {
            assert_eq!(parse(v.to_string().as_bytes()).map(|p| p.0), Some(v));
        }
        let fast = |s: &str| {
            let mut b = s.as_bytes().to_vec();
            b.resize(40, b',');
            parse_number_fast(&b)
        };
        let mut v = 1u64;
        while v < u64::MAX / 10 {
            for x in [v, v + 1, v * 10 - 1] {
                assert_eq!(fast(&x.to_string()), Some((x, x.to_string().len())), "{x}");
            }
            v *= 10;
        }
        assert_eq!(fast("9999999999999999999"), Some((9999999999999999999, 19)));
        assert_eq!(fast("10000000000000000000"), None);
        assert_eq!(fast("00000000000000000012"), None);
        assert_eq!(fast("0000000000000000012"), Some((12, 19)));
        assert_eq!(fast("12345678,"), Some((12345678, 8)));
        assert_eq!(fast("123456789]"), Some((123456789, 9)));
        assert_eq!(fast("1234567890123456\n"), Some((1234567890123456, 16)));
    }

    #[test]
    fn lossy() {
        let mut s = String::new();
        push_lossy(&mut s, b"a\xffb\xc3");
        assert_eq!(s, "a\u{FFFD}b\u{FFFD}");
    }
}
