//! HTTP/1.1 on the wire: requests serialized once, and an incremental response parser that
//! counts body bytes without keeping them.

use crate::plan::{RequestSpec, Target};

/// Longest response head (status line and headers) accepted.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
const MAX_CHUNK_LINE: usize = 1024;

/// A request ready to write, and whether its response can have a body.
pub(crate) struct WireRequest {
    pub bytes: Vec<u8>,
    pub is_head: bool,
}

pub(crate) fn serialize(spec: &RequestSpec, target: &Target) -> WireRequest {
    let mut out = Vec::with_capacity(128 + spec.body.len());
    out.extend_from_slice(spec.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(spec.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let has = |name: &str| {
        spec.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if !has("host") {
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(target.host_header().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in &spec.headers {
        if name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let method_expects_body = matches!(spec.method.as_str(), "POST" | "PUT" | "PATCH");
    if !spec.body.is_empty() || method_expects_body {
        out.extend_from_slice(format!("Content-Length: {}\r\n", spec.body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&spec.body);
    WireRequest {
        bytes: out,
        is_head: spec.method == "HEAD",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body { remaining: u64 },
    ChunkSize,
    ChunkData { remaining: u64 },
    ChunkDataEnd,
    Trailers,
    UntilClose,
    Done,
}

/// What feeding bytes produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `consumed` bytes were used; more are needed.
    NeedMore { consumed: usize },
    /// The response is complete after `consumed` bytes.
    Done { consumed: usize },
}

/// A response parser for one request at a time.
#[derive(Debug)]
pub(crate) struct ResponseParser {
    state: State,
    head_request: bool,
    pub status: u16,
    /// Whether the connection may carry another request after this response.
    pub keep_alive: bool,
}

impl ResponseParser {
    pub fn new() -> ResponseParser {
        ResponseParser {
            state: State::Done,
            head_request: false,
            status: 0,
            keep_alive: false,
        }
    }

    /// Starts waiting for the response to a new request.
    pub fn start(&mut self, head_request: bool) {
        self.state = State::Head;
        self.head_request = head_request;
        self.status = 0;
        self.keep_alive = true;
    }

    /// The peer closed the connection: true if that completes the response (a body delimited
    /// by the connection's end).
    pub fn finish_at_eof(&mut self) -> bool {
        if self.state == State::UntilClose {
            self.state = State::Done;
            self.keep_alive = false;
            true
        } else {
            false
        }
    }

    /// Feeds buffered bytes; may consume fewer than given (never a partial head or chunk-size
    /// line: those wait for more bytes).
    pub fn feed(&mut self, buf: &[u8]) -> Result<Step, String> {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            match self.state {
                State::Done => return Ok(Step::Done { consumed: pos }),
                State::Head => {
                    let Some(end) = memchr::memmem::find(rest, b"\r\n\r\n") else {
                        if rest.len() >= MAX_HEAD {
                            return Err(format!("response head larger than {MAX_HEAD} bytes"));
                        }
                        return Ok(Step::NeedMore { consumed: pos });
                    };
                    self.parse_head(&rest[..end + 2])?;
                    pos += end + 4;
                }
                State::Body { remaining } => {
                    let take = remaining.min(rest.len() as u64);
                    pos += take as usize;
                    let remaining = remaining - take;
                    if remaining == 0 {
                        self.state = State::Done;
                    } else {
                        self.state = State::Body { remaining };
                        return Ok(Step::NeedMore { consumed: pos });
                    }
                }
                State::UntilClose => {
                    return Ok(Step::NeedMore {
                        consumed: buf.len(),
                    })
                }
                State::ChunkSize => {
                    let Some(nl) = memchr::memchr(b'\n', rest) else {
                        if rest.len() > MAX_CHUNK_LINE {
                            return Err("chunk-size line too long".to_string());
                        }
                        return Ok(Step::NeedMore { consumed: pos });
                    };
                    let line = &rest[..nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    let digits = line.split(|&b| b == b';').next().unwrap_or(b"");
                    let size = parse_hex(trim(digits))
                        .ok_or_else(|| format!("bad chunk size {:?}", lossy(line)))?;
                    pos += nl + 1;
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::ChunkData { remaining: size }
                    };
                }
                State::ChunkData { remaining } => {
                    let take = remaining.min(rest.len() as u64);
                    pos += take as usize;
                    let remaining = remaining - take;
                    if remaining == 0 {
                        self.state = State::ChunkDataEnd;
                    } else {
                        self.state = State::ChunkData { remaining };
                        return Ok(Step::NeedMore { consumed: pos });
                    }
                }
                State::ChunkDataEnd => {
                    if rest.len() < 2 {
                        if rest == b"\n" {
                            pos += 1;
                            self.state = State::ChunkSize;
                            continue;
                        }
                        if rest.is_empty() || rest == b"\r" {
                            return Ok(Step::NeedMore { consumed: pos });
                        }
                    }
                    if rest.starts_with(b"\r\n") {
                        pos += 2;
                    } else if rest.starts_with(b"\n") {
                        pos += 1;
                    } else {
                        return Err("missing line break after chunk data".to_string());
                    }
                    self.state = State::ChunkSize;
                }
                State::Trailers => {
                    let Some(nl) = memchr::memchr(b'\n', rest) else {
                        if rest.len() > MAX_HEAD {
                            return Err("trailer line too long".to_string());
                        }
                        return Ok(Step::NeedMore { consumed: pos });
                    };
                    let line = &rest[..nl];
                    pos += nl + 1;
                    if line.is_empty() || line == b"\r" {
                        self.state = State::Done;
                    }
                }
            }
        }
    }

    /// Parses a head, `head` being the status line and headers each ending in CRLF.
    fn parse_head(&mut self, head: &[u8]) -> Result<(), String> {
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let status_line = lines.next().unwrap_or(b"");
        let (version, rest) = split_once(status_line, b' ')
            .ok_or_else(|| format!("bad status line {:?}", lossy(status_line)))?;
        let http10 = match version {
            b"HTTP/1.1" => false,
            b"HTTP/1.0" => true,
            _ => return Err(format!("bad status line {:?}", lossy(status_line))),
        };
        let code = rest.get(..3).unwrap_or(b"");
        if code.len() != 3
            || !code.iter().all(u8::is_ascii_digit)
            || rest.get(3).is_some_and(|&b| b != b' ')
        {
            return Err(format!("bad status line {:?}", lossy(status_line)));
        }
        let status = code
            .iter()
            .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
        if !(100..=599).contains(&status) {
            return Err(format!("bad status code {status}"));
        }

        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut has_transfer_encoding = false;
        let mut keep_alive = !http10;
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let (name, value) = split_once(line, b':')
                .ok_or_else(|| format!("bad header line {:?}", lossy(line)))?;
            let value = trim(value);
            if name.eq_ignore_ascii_case(b"content-length") {
                let n = parse_decimal(value)
                    .ok_or_else(|| format!("bad Content-Length {:?}", lossy(value)))?;
                if content_length.is_some_and(|c| c != n) {
                    return Err("conflicting Content-Length headers".to_string());
                }
                content_length = Some(n);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                has_transfer_encoding = true;
                let last = value.rsplit(|&b| b == b',').next().unwrap_or(b"");
                chunked = trim(last).eq_ignore_ascii_case(b"chunked");
            } else if name.eq_ignore_ascii_case(b"connection") {
                for token in value.split(|&b| b == b',') {
                    let token = trim(token);
                    if token.eq_ignore_ascii_case(b"close") {
                        keep_alive = false;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") && http10 {
                        keep_alive = true;
                    }
                }
            }
        }

        if (100..200).contains(&status) {
            if status == 101 {
                return Err("unexpected 101 Switching Protocols".to_string());
            }
            // Interim response: the real one follows.
            self.state = State::Head;
            return Ok(());
        }
        self.status = status;
        self.keep_alive = keep_alive;
        self.state = if self.head_request || status == 204 || status == 304 {
            State::Done
        } else if has_transfer_encoding {
            if chunked {
                State::ChunkSize
            } else {
                self.keep_alive = false;
                State::UntilClose
            }
        } else if let Some(n) = content_length {
            if n == 0 {
                State::Done
            } else {
                State::Body { remaining: n }
            }
        } else {
            self.keep_alive = false;
            State::UntilClose
        };
        Ok(())
    }
}

fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(sep, s)?;
    Some((&s[..i], &s[i + 1..]))
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        s.iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0')),
    )
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 15 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &d| {
        let v = (d as char).to_digit(16)?;
        Some(acc * 16 + u64::from(v))
    })
}

fn lossy(s: &[u8]) -> String {
    let s = &s[..s.len().min(80)];
    String::from_utf8_lossy(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes, as a connection buffer would: unconsumed bytes
    /// stay and more are appended.
    fn parse(input: &[u8], head: bool, step: usize) -> Result<(u16, bool, usize), String> {
        let mut p = ResponseParser::new();
        p.start(head);
        let mut buf = Vec::new();
        let mut fed = 0;
        let mut used = 0;
        loop {
            let next = (fed + step).min(input.len());
            buf.extend_from_slice(&input[fed..next]);
            fed = next;
            match p.feed(&buf)? {
                Step::Done { consumed } => return Ok((p.status, p.keep_alive, used + consumed)),
                Step::NeedMore { consumed } => {
                    buf.drain(..consumed);
                    used += consumed;
                }
            }
            if fed == input.len() {
                return if p.finish_at_eof() {
                    Ok((p.status, p.keep_alive, input.len()))
                } else {
                    Err("incomplete".to_string())
                };
            }
        }
    }

    fn all_steps(input: &[u8], head: bool) -> (u16, bool, usize) {
        let whole = parse(input, head, input.len()).unwrap();
        for step in 1..8 {
            assert_eq!(parse(input, head, step).unwrap(), whole, "step {step}");
        }
        whole
    }

    #[test]
    fn content_length() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
        assert_eq!(all_steps(r, false), (200, true, r.len() - 5));
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
                  5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(all_steps(r, false), (200, true, r.len()));
    }

    #[test]
    fn no_body_for_head_204_304_and_interim_responses() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n";
        assert_eq!(all_steps(r, true), (200, true, r.len()));
        let r = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(all_steps(r, false), (204, true, r.len()));
        let r = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n";
        assert_eq!(all_steps(r, false), (304, true, r.len()));
    }

    #[test]
    fn connection_close_and_http10() {
        let r = b"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(all_steps(r, false), (500, false, r.len()));
        let r = b"HTTP/1.0 200 OK\r\n\r\nbody until close";
        assert_eq!(all_steps(r, false), (200, false, r.len()));
        let r = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(all_steps(r, false), (200, true, r.len()));
    }

    #[test]
    fn malformed() {
        for r in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"garbage\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXX",
        ] {
            assert!(parse(r, false, r.len()).is_err(), "{:?}", lossy(r));
        }
    }
}
