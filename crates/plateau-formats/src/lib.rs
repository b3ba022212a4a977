//! Heap-dump and allocation-profile readers: turn the bytes a runtime wrote into a
//! [`plateau_graph::HeapGraph`] (heap dumps) or a [`plateau_profile::AllocProfile`] (tracemalloc, pprof).
//!
//! Owns:
//! * [`v8`]: a streaming reader for V8 / Node.js / Chrome `.heapsnapshot` files (a hand-written
//!   byte-level tokenizer, no JSON DOM) and the V8-specific semantics Chrome DevTools applies
//!   on load — which edges retain (ephemerons, page ownership), shallow-size attribution,
//!   class naming and plain-object interface names — so retained sizes match DevTools.
//! * [`hprof`]: a streaming reader for Java HPROF heap dumps into the same graph.
//! * [`pprof`]: pprof `profile.proto` files (Go heap and allocs profiles; jemalloc and
//!   gperftools profiles converted by pprof) into the allocation-profile model,
//!   [`plateau_profile::AllocProfile`] — sites and stacks, not an object graph.
//! * [`tracemalloc`]: Python `tracemalloc.Snapshot.dump()` files read into a
//!   [`plateau_profile::AllocProfile`] by a pickle-subset machine that executes nothing
//!   (only the opcodes and the two `tracemalloc` class names a dump contains).
//! * [`sniff`]: recognising a format from the first bytes of a file.
//! * [`maybe_gunzip`]: transparent decompression of gzip (including multi-member) input.
//! * Reading ahead: every reader's input is read (and gunzipped) on a second thread while the
//!   parser decodes, a few 4 MiB chunks ahead.
//! * [`FormatError`]: one error type whose messages name the byte offset or the record at
//!   fault and what was expected.
//!
//! Must not know: what a leak is, how findings are ranked or worded, terminals and progress
//! bars (readers report bytes consumed through a callback and nothing else), JSON or any other
//! output format, the command line. Warnings are returned as plain strings in [`Parsed`].

mod ahead;
mod error;
pub mod hprof;
pub mod pprof;
pub mod sniff;
pub mod tracemalloc;
pub mod v8;

use std::io::{BufRead, BufReader, Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

pub use error::FormatError;

/// A reader's result together with the problems it worked around.
#[derive(Debug)]
pub struct Parsed<T> {
    pub value: T,
    /// Lower-case sentences about what was odd but not fatal (a header count that disagrees
    /// with the arrays, trailing bytes, dropped locations...).
    pub warnings: Vec<String>,
}

/// Wraps a reader, transparently gunzipping when the stream starts with `1f 8b`
/// (multi-member gzip is read to the end, as `gzip -d` does). Other input passes through
/// unchanged.
pub fn maybe_gunzip<R: BufRead + Send + 'static>(
    mut r: R,
) -> std::io::Result<Box<dyn Read + Send>> {
    let prefix = take_prefix(&mut r, 2)?;
    let is_gzip = prefix == sniff::GZIP_MAGIC;
    let chained = Cursor::new(prefix).chain(r);
    if is_gzip {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(chained)))
    } else {
        Ok(Box::new(chained))
    }
}

/// Runs `parse` over `reader`'s bytes, gunzipped when they start with the gzip magic and read
/// (and inflated) ahead on a second thread. `parse` also gets a function telling how many
/// raw bytes have been taken from `reader` (for progress, which must count the file's bytes,
/// not the decompressed ones).
pub(crate) fn with_source<'a, R: Read + Send + 'a, T>(
    reader: R,
    parse: impl FnOnce(Box<dyn Read + 'a>, Box<dyn Fn() -> u64 + 'a>) -> Result<T, FormatError>,
) -> Result<T, FormatError> {
    let consumed = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: reader,
        count: Arc::clone(&consumed),
    };
    let mut buffered = BufReader::with_capacity(64 << 10, counting);
    let prefix =
        take_prefix(&mut buffered, 2).map_err(|source| FormatError::Io { offset: 0, source })?;
    let gzip = prefix == sniff::GZIP_MAGIC;
    let chained = Cursor::new(prefix).chain(buffered);
    let source: Box<dyn Read + Send + 'a> = if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(chained))
    } else {
        Box::new(chained)
    };
    std::thread::scope(|scope| {
        let ahead = ahead::ReadAhead::spawn(scope, source);
        parse(Box::new(ahead), Box::new(move || consumed.load(Relaxed)))
    })
}

/// Counts the bytes a reader delivers.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Relaxed);
        Ok(n)
    }
}

/// Takes (up to) the first `n` bytes of `r`, without relying on one `fill_buf` returning them
/// all; chain them back in front of `r` to read the whole stream.
pub(crate) fn take_prefix<R: BufRead>(r: &mut R, n: usize) -> std::io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(n);
    while prefix.len() < n {
        let buf = match r.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        let take = (n - prefix.len()).min(buf.len());
        prefix.extend_from_slice(&buf[..take]);
        r.consume(take);
    }
    Ok(prefix)
}
