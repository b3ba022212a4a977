//! Reading ahead on a second thread: the file's bytes (and their decompression, for gzip
//! input) arrive while the parser decodes the previous chunk, instead of in turns with it.
//! A cold 2 GB dump is read from disk at the same time as it is parsed, and a gzipped one
//! is inflated at the same time.

use std::io::{ErrorKind, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::Scope;

/// Bytes read per chunk.
const CHUNK: usize = 4 << 20;

/// Chunks read but not yet parsed: enough to ride out an uneven disk, little memory.
const DEPTH: usize = 2;

/// A chunk and how many of its bytes hold data.
type Chunk = (Vec<u8>, usize);

/// The parser's end of the read-ahead: a [`Read`] over the chunks the reading thread sends.
/// Errors come in order, after the bytes read before them.
pub(crate) struct ReadAhead {
    chunks: Receiver<std::io::Result<Chunk>>,
    /// Parsed chunks go back to the reading thread to be filled again.
    spent: SyncSender<Vec<u8>>,
    current: Chunk,
    pos: usize,
}

impl ReadAhead {
    /// Starts reading `source` on a thread of `scope`. The thread stops at the end of the
    /// input, at an error (which the parser gets next), or when the parser drops its end.
    pub(crate) fn spawn<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        mut source: Box<dyn Read + Send + 'env>,
    ) -> ReadAhead {
        let (send, chunks) = sync_channel::<std::io::Result<Chunk>>(DEPTH);
        let (spent, recycled) = sync_channel::<Vec<u8>>(DEPTH + 2);
        scope.spawn(move || loop {
            let mut buf = recycled.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
            let mut filled = 0;
            let mut failed = None;
            while filled < buf.len() {
                match source.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(k) => filled += k,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let ended = filled < buf.len();
            if filled > 0 && send.send(Ok((buf, filled))).is_err() {
                return;
            }
            if let Some(e) = failed {
                let _ = send.send(Err(e));
                return;
            }
            if ended {
                return;
            }
        });
        ReadAhead {
            chunks,
            spent,
            current: (Vec::new(), 0),
            pos: 0,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.current.1 {
            let next = match self.chunks.recv() {
                Ok(Ok(chunk)) => chunk,
                Ok(Err(e)) => return Err(e),
                // The reading thread is done: the end of the input.
                Err(_) => return Ok(0),
            };
            let spent = std::mem::replace(&mut self.current, next);
            if !spent.0.is_empty() {
                let _ = self.spent.try_send(spent.0);
            }
            self.pos = 0;
        }
        let (buf, len) = &self.current;
        let n = out.len().min(len - self.pos);
        out[..n].copy_from_slice(&buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that hands out a few bytes per call, then fails.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        fail_at_end: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at == self.data.len() {
                return if self.fail_at_end {
                    Err(std::io::Error::new(ErrorKind::UnexpectedEof, "cut"))
                } else {
                    Ok(0)
                };
            }
            let n = buf.len().min(7919).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn read_all(source: Trickle) -> (Vec<u8>, Option<ErrorKind>) {
        std::thread::scope(|scope| {
            let mut ahead = ReadAhead::spawn(scope, Box::new(source));
            let mut got = Vec::new();
            let mut buf = vec![0; 100_003];
            loop {
                match ahead.read(&mut buf) {
                    Ok(0) => return (got, None),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => return (got, Some(e.kind())),
                }
            }
        })
    }

    #[test]
    fn every_byte_arrives_in_order_then_the_error() {
        let data: Vec<u8> = (0..3 * CHUNK + 12_345)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        for (len, fail) in [
            (0, false),
            (10, false),
            (CHUNK, false),
            (data.len(), false),
            (data.len(), true),
            (CHUNK, true),
        ] {
            let source = Trickle {
                data: data[..len].to_vec(),
                at: 0,
                fail_at_end: fail,
            };
            let (got, error) = read_all(source);
            assert_eq!(got, &data[..len], "{len} bytes");
            assert_eq!(
                error,
                fail.then_some(ErrorKind::UnexpectedEof),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn a_parser_that_stops_early_ends_the_thread() {
        let data = vec![7u8; 5 * CHUNK];
        std::thread::scope(|scope| {
            let mut ahead = ReadAhead::spawn(
                scope,
                Box::new(Trickle {
                    data,
                    at: 0,
                    fail_at_end: false,
                }),
            );
            let mut buf = [0u8; 10];
            assert_eq!(ahead.read(&mut buf).unwrap(), 10);
            drop(ahead);
            // The scope joins the reading thread: it must not block on a full channel.
        });
    }
}
