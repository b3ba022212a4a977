//! A refillable byte buffer over any [`Read`], with the few operations a binary record reader
//! needs: make `n` bytes contiguous, consume them, skip far ahead without keeping anything.
//!
//! The buffer grows only while a single request (one record's fixed part, one instance's
//! field bytes) needs more than it holds, and then only as fast as data actually arrives, so
//! a corrupt length can never make it allocate more than about twice the input it has seen.

use std::io::{ErrorKind, Read};

use crate::FormatError;

/// Report progress at most once per this many source bytes.
const PROGRESS_STEP: u64 = 1 << 20;

/// Bytes read beyond a request's need when the buffer is refilled.
const FILL_AHEAD: usize = 64 << 10;

pub(crate) struct Input<'a> {
    reader: Box<dyn Read + 'a>,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Absolute offset of `buf[0]` in the (decompressed) stream.
    base: u64,
    eof: bool,
    progress: &'a mut dyn FnMut(u64),
    /// How many raw bytes the source has delivered (compressed bytes for gzip input).
    source_bytes: Box<dyn Fn() -> u64 + 'a>,
    reported: u64,
    /// The source reported an unexpected end (a truncated gzip stream): read as the end.
    cut_short: bool,
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
            progress,
            source_bytes,
            reported: 0,
            cut_short: false,
        }
    }

    /// Absolute offset of the next unread byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The unread bytes already in the buffer.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    #[inline]
    pub(crate) fn available(&self) -> usize {
        self.end - self.pos
    }

    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.available());
        self.pos += n.min(self.end - self.pos);
    }

    /// Makes at least `n` unread bytes contiguous in [`Input::bytes`]. `Ok(false)` when the
    /// input ends first (whatever did arrive stays readable).
    #[inline]
    pub(crate) fn fill(&mut self, n: usize) -> Result<bool, FormatError> {
        if self.available() >= n {
            return Ok(true);
        }
        self.fill_slow(n)
    }

    #[cold]
    fn fill_slow(&mut self, n: usize) -> Result<bool, FormatError> {
        while self.available() < n {
            if self.eof {
                return Ok(false);
            }
            if self.end == self.buf.len() {
                if self.pos > 0 {
                    // Move the unread tail to the front.
                    self.buf.copy_within(self.pos..self.end, 0);
                    self.base += self.pos as u64;
                    self.end -= self.pos;
                    self.pos = 0;
                } else {
                    // One request larger than the buffer: grow, at most doubling, and only
                    // once what is already here has been filled.
                    let len = self.buf.len();
                    let grown = n.min(len.saturating_mul(2)).max(len + 1);
                    self.buf.resize(grown, 0);
                }
            }
            // Only a little past what is asked for: a heap-dump segment handed out next is
            // then read from the source straight into its own buffer
            // ([`read_exact_or_end`](Self::read_exact_or_end)) rather than copied twice.
            let want = (n - self.available()).max(FILL_AHEAD);
            let stop = self.buf.len().min(self.end + want);
            let read = loop {
                match self.reader.read(&mut self.buf[self.end..stop]) {
                    Ok(k) => break k,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    // A cut gzip stream: what arrived is readable; the reader says where it
                    // ends like any other end of input.
                    Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                        self.cut_short = true;
                        break 0;
                    }
                    Err(source) => {
                        return Err(FormatError::Io {
                            offset: self.base + self.end as u64,
                            source,
                        })
                    }
                }
            };
            if read == 0 {
                self.eof = true;
            }
            self.end += read;
            self.report(read == 0);
        }
        Ok(true)
    }

    /// Tells the progress callback how far the source is, every `PROGRESS_STEP` bytes and at
    /// its end.
    fn report(&mut self, at_end: bool) {
        let consumed = (self.source_bytes)();
        if consumed >= self.reported + PROGRESS_STEP || (at_end && consumed > self.reported) {
            self.reported = consumed;
            (self.progress)(consumed);
        }
    }

    /// Fills `out` with the next bytes, those past the buffer straight from the source (one
    /// copy fewer for a whole heap-dump segment); returns how many arrived (fewer only at the
    /// end of the input).
    pub(crate) fn read_exact_or_end(&mut self, out: &mut [u8]) -> Result<usize, FormatError> {
        let buffered = self.available().min(out.len());
        out[..buffered].copy_from_slice(&self.buf[self.pos..self.pos + buffered]);
        self.pos += buffered;
        if buffered == out.len() {
            return Ok(buffered);
        }
        // The buffer is used up: it restarts after the bytes read past it.
        self.base += self.end as u64;
        self.pos = 0;
        self.end = 0;
        let mut got = buffered;
        while got < out.len() && !self.eof {
            match self.reader.read(&mut out[got..]) {
                Ok(0) => self.eof = true,
                Ok(k) => {
                    got += k;
                    self.base += k as u64;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    self.cut_short = true;
                    self.eof = true;
                }
                Err(source) => {
                    return Err(FormatError::Io {
                        offset: self.base,
                        source,
                    })
                }
            }
            let at_end = self.eof;
            self.report(at_end);
        }
        Ok(got)
    }

    /// Puts `bytes`, the last ones read, back in front of what is left to read (nothing is
    /// buffered when this is called: the bytes were read by [`Input::read_exact_or_end`]).
    pub(crate) fn unread(&mut self, bytes: &[u8]) {
        let kept = self.available();
        if self.buf.len() < bytes.len() + kept {
            self.buf.resize(bytes.len() + kept, 0);
        }
        self.buf.copy_within(self.pos..self.end, bytes.len());
        self.buf[..bytes.len()].copy_from_slice(bytes);
        self.base = self.offset() - bytes.len() as u64;
        self.pos = 0;
        self.end = bytes.len() + kept;
    }

    /// An input over bytes already in memory, `bytes[..len]`, which start at byte `base` of
    /// the stream (a heap-dump segment read ahead, decoded in its turn). No progress reports.
    pub(crate) fn over<'b>(bytes: Vec<u8>, len: usize, base: u64) -> Input<'b> {
        // A closure without captures: leaking its box allocates nothing.
        let quiet: &'b mut dyn FnMut(u64) = Box::leak(Box::new(|_: u64| {}));
        let end = len.min(bytes.len());
        Input {
            reader: Box::new(std::io::empty()),
            buf: bytes,
            pos: 0,
            end,
            base,
            eof: true,
            progress: quiet,
            source_bytes: Box::new(|| 0),
            reported: 0,
            cut_short: false,
        }
    }

    /// The buffer back (of an input made by [`Input::over`]).
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// Skips up to `n` bytes without keeping them; returns how many were skipped (fewer only
    /// at the end of the input).
    pub(crate) fn skip(&mut self, n: u64) -> Result<u64, FormatError> {
        self.take(n, None)
    }

    /// Reads up to `n` bytes into `out` (appending); returns how many arrived.
    pub(crate) fn read_into(&mut self, n: u64, out: &mut Vec<u8>) -> Result<u64, FormatError> {
        self.take(n, Some(out))
    }

    /// Consumes up to `n` bytes, appending them to `out` when given; returns how many arrived.
    fn take(&mut self, n: u64, mut out: Option<&mut Vec<u8>>) -> Result<u64, FormatError> {
        let mut left = n;
        loop {
            let here = (self.available() as u64).min(left) as usize;
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&self.buf[self.pos..self.pos + here]);
            }
            self.pos += here;
            left -= here as u64;
            if left == 0 {
                return Ok(n);
            }
            // The buffer is empty: refill it (from the front, nothing to keep).
            self.base += self.pos as u64;
            self.pos = 0;
            self.end = 0;
            if !self.fill(1)? {
                return Ok(n - left);
            }
        }
    }

    /// Whether the source ended with an "unexpected end" error (a truncated gzip stream).
    pub(crate) fn cut_short(&self) -> bool {
        self.cut_short
    }

    /// Reports the final position to the progress callback.
    pub(crate) fn finish_progress(&mut self) {
        let consumed = (self.source_bytes)();
        if consumed != self.reported {
            self.reported = consumed;
            (self.progress)(consumed);
        }
    }
}
