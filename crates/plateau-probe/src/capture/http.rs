//! Just enough HTTP/1.1 for captures: URLs, loopback-checked connections bounded by one
//! deadline, a GET, and a response body read as a stream (length, chunked or to close).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::{CaptureError, Network};

const MAX_HEADER_LINE: usize = 8 << 10;
const MAX_HEADERS: usize = 100;

/// One deadline for a whole operation, and the timeout it came from (for messages).
#[derive(Clone, Copy, Debug)]
pub(super) struct Deadline {
    pub at: Instant,
    pub total: Duration,
}

impl Deadline {
    pub fn after(total: Duration) -> Self {
        // A year is "no timeout" and keeps `Instant` arithmetic from overflowing.
        let total = total.min(Duration::from_secs(365 * 86_400));
        Deadline {
            at: Instant::now() + total,
            total,
        }
    }

    pub fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn timeout(&self, what: impl Into<String>) -> CaptureError {
        CaptureError::Timeout {
            what: what.into(),
            timeout: self.total,
            detail: String::new(),
        }
    }
}

/// `scheme://host[:port]/path` taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Url {
    pub host: String,
    pub port: u16,
    /// `host[:port]` as written, for the Host header.
    pub authority: String,
    /// Starts with `/`; includes the query.
    pub path: String,
}

impl Url {
    /// Parses `url`, which must start with one of `schemes` (`"http://"`, `"ws://"`).
    pub fn parse(url: &str, schemes: &[&str], default_port: u16) -> Result<Self, CaptureError> {
        let invalid = |reason: &str| CaptureError::InvalidTarget {
            target: url.to_string(),
            reason: reason.to_string(),
        };
        let rest = schemes
            .iter()
            .find_map(|s| strip_prefix_ignore_case(url, s))
            .ok_or_else(|| {
                let https = ["https://", "wss://"]
                    .iter()
                    .any(|s| strip_prefix_ignore_case(url, s).is_some());
                invalid(&if https {
                    "TLS is not supported (captures are meant for loopback; tunnel to a local \
                     port)"
                        .to_string()
                } else {
                    format!("expected a URL starting with {}", schemes.join(" or "))
                })
            })?;
        let rest = rest.split('#').next().unwrap_or_default();
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        if authority.contains('@') {
            return Err(invalid("credentials in the URL are not supported"));
        }
        let (host, port) = split_host_port(authority).map_err(invalid)?;
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        if path
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(invalid("blank or control character in the path"));
        }
        Ok(Url {
            host: host.to_string(),
            port: port.unwrap_or(default_port),
            authority: authority.to_string(),
            path,
        })
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
pub(super) fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), &'static str> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed '[' in the host")?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or("junk after ']'")?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(p.parse().map_err(|_| "the port is not a number")?),
    };
    Ok((host, port))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The addresses to try for `host`. Loopback-only never asks DNS: an IP literal or
/// `localhost`.
fn addresses(host: &str, port: u16, network: Network) -> Result<Vec<SocketAddr>, CaptureError> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        ]);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        if network == Network::LoopbackOnly && !ip.is_loopback() {
            return Err(CaptureError::NotLoopback {
                host: host.to_string(),
            });
        }
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if network == Network::LoopbackOnly {
        return Err(CaptureError::NotLoopback {
            host: host.to_string(),
        });
    }
    (host, port)
        .to_socket_addrs()
        .map(|a| a.collect())
        .map_err(|source| CaptureError::Io {
            what: format!("cannot resolve {host:?}"),
            source,
        })
}

/// A TCP stream whose every read and write is bounded by the same deadline.
pub(super) struct Conn {
    reader: BufReader<DeadlineStream>,
    pub what: String,
    pub deadline: Deadline,
}

pub(super) struct DeadlineStream {
    stream: TcpStream,
    at: Instant,
}

impl DeadlineStream {
    fn left(&self) -> io::Result<Duration> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::ErrorKind::TimedOut.into())
        } else {
            Ok(left)
        }
    }
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

impl Write for DeadlineStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Conn {
    /// Connects to `url`'s host (loopback only unless allowed). `what` names the peer in
    /// errors ("the Node inspector"); `hint` is added to a refused connection's message.
    pub fn open(
        url: &Url,
        network: Network,
        deadline: Deadline,
        what: &'static str,
        hint: &'static str,
    ) -> Result<Self, CaptureError> {
        let addrs = addresses(&url.host, url.port, network)?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in addrs {
            let left = deadline.left();
            if left.is_zero() {
                break;
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(Conn {
                        reader: BufReader::with_capacity(
                            256 << 10,
                            DeadlineStream {
                                stream,
                                at: deadline.at,
                            },
                        ),
                        what: format!("{what} at {}", url.authority),
                        deadline,
                    });
                }
                Err(e) => last = e,
            }
        }
        if matches!(
            last.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        ) || deadline.left().is_zero()
        {
            return Err(deadline.timeout(format!("connecting to {what} at {}", url.authority)));
        }
        Err(CaptureError::Connect {
            what,
            addr: url.authority.clone(),
            source: last,
            hint,
        })
    }

    /// Moves the deadline of every later read and write.
    pub fn set_deadline(&mut self, deadline: Deadline) {
        self.deadline = deadline;
        self.reader.get_mut().at = deadline.at;
    }

    pub fn reader(&mut self) -> &mut BufReader<DeadlineStream> {
        &mut self.reader
    }

    /// Maps an IO error of this connection to what it means.
    pub fn error(&self, e: io::Error) -> CaptureError {
        map_io(&self.what, self.deadline, e)
    }

    /// [`Conn::error`] that does not borrow the connection (for use while a [`Body`] does).
    pub fn error_mapper(&self) -> impl Fn(io::Error) -> CaptureError {
        let (what, deadline) = (self.what.clone(), self.deadline);
        move |e| map_io(&what, deadline, e)
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), CaptureError> {
        let r = self.reader.get_mut().write_all(bytes);
        r.map_err(|e| self.error(e))
    }

    fn bad(&self, detail: impl Into<String>) -> CaptureError {
        CaptureError::Protocol {
            what: self.what.clone(),
            detail: detail.into(),
        }
    }

    /// Sends `GET url.path` with `extra` header lines (each ending in CRLF).
    pub fn send_get(&mut self, url: &Url, extra: &str) -> Result<(), CaptureError> {
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: plateau\r\n{extra}\r\n",
            url.path, url.authority
        );
        self.write_all(request.as_bytes())
    }

    /// Reads a status line and headers (1xx interim responses skipped, except 101).
    pub fn read_head(&mut self) -> Result<Head, CaptureError> {
        loop {
            let head = self.read_one_head()?;
            if head.status == 101 || !(100..200).contains(&head.status) {
                return Ok(head);
            }
        }
    }

    fn read_one_head(&mut self) -> Result<Head, CaptureError> {
        let status_line = self
            .read_line()?
            .ok_or_else(|| self.bad("the connection closed before a status line"))?;
        let mut parts = status_line.splitn(3, ' ');
        let (version, code, reason) = (parts.next(), parts.next(), parts.next());
        let status = match (version, code.and_then(|c| c.parse::<u16>().ok())) {
            (Some(v), Some(code)) if v.starts_with("HTTP/1.") && (100..1000).contains(&code) => {
                code
            }
            _ => {
                return Err(self.bad(format!(
                    "expected an HTTP response ('HTTP/1.x <status>'), found {status_line:?}"
                )))
            }
        };
        let mut head = Head {
            status,
            reason: reason.unwrap_or_default().to_string(),
            headers: Vec::new(),
        };
        for _ in 0..=MAX_HEADERS {
            let line = self
                .read_line()?
                .ok_or_else(|| self.bad("the connection closed inside the headers"))?;
            if line.is_empty() {
                return Ok(head);
            }
            let (name, value) = line.split_once(':').ok_or_else(|| {
                self.bad(format!("expected a 'Name: value' header, found {line:?}"))
            })?;
            head.headers
                .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        Err(self.bad(format!("more than {MAX_HEADERS} headers")))
    }

    /// A CRLF (or LF) line of at most `MAX_HEADER_LINE` bytes; `None` at end of input.
    fn read_line(&mut self) -> Result<Option<String>, CaptureError> {
        match read_line(&mut self.reader) {
            Ok(line) => Ok(line),
            Err(e) => Err(self.error(e)),
        }
    }

    /// The body of a response to a GET, as a reader (errors come out as `io::Error`; map them
    /// with [`Conn::error`]).
    pub fn body(&mut self, head: &Head) -> Result<Body<'_>, CaptureError> {
        let framing = if head
            .header("transfer-encoding")
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))
        {
            Framing::Chunked {
                left: 0,
                started: false,
                done: false,
            }
        } else if let Some(len) = head.header("content-length") {
            Framing::Length(
                len.parse()
                    .map_err(|_| self.bad(format!("bad Content-Length {len:?}")))?,
            )
        } else {
            Framing::Close
        };
        Ok(Body {
            reader: &mut self.reader,
            framing,
        })
    }
}

pub(super) type DeadlineReader = BufReader<DeadlineStream>;

fn map_io(what: &str, deadline: Deadline, e: io::Error) -> CaptureError {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => deadline.timeout(what),
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => CaptureError::Closed {
            what: what.to_string(),
            detail: "unexpectedly".into(),
        },
        io::ErrorKind::InvalidData => CaptureError::Protocol {
            what: what.to_string(),
            detail: e.to_string(),
        },
        _ => CaptureError::Io {
            what: what.to_string(),
            source: e,
        },
    }
}

fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = reader
        .take(MAX_HEADER_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if n > MAX_HEADER_LINE {
            invalid(format!("a line longer than {MAX_HEADER_LINE} bytes"))
        } else {
            io::ErrorKind::UnexpectedEof.into()
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| invalid("a header line that is not UTF-8".into()))
}

fn invalid(detail: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, detail)
}

#[derive(Debug)]
pub(super) struct Head {
    pub status: u16,
    pub reason: String,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

enum Framing {
    Length(u64),
    Chunked {
        left: u64,
        started: bool,
        done: bool,
    },
    Close,
}

/// A response body as a stream.
pub(super) struct Body<'a> {
    reader: &'a mut DeadlineReader,
    framing: Framing,
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match &mut self.framing {
            Framing::Close => self.reader.read(buf),
            Framing::Length(left) => {
                if *left == 0 {
                    return Ok(0);
                }
                let want = (*left).min(buf.len() as u64) as usize;
                let n = self.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the body ended before Content-Length bytes",
                    ));
                }
                *left -= n as u64;
                Ok(n)
            }
            Framing::Chunked {
                left,
                started,
                done,
            } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    if *started && read_line(self.reader)?.is_none_or(|l| !l.is_empty()) {
                        return Err(invalid("expected CRLF after chunk data".into()));
                    }
                    *started = true;
                    let line = read_line(self.reader)?
                        .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
                    // Chunk extensions (`;name=value`) carry nothing we need.
                    let size = line.split(';').next().unwrap_or_default().trim();
                    *left = u64::from_str_radix(size, 16).map_err(|_| {
                        invalid(format!("expected a hex chunk size, found {line:?}"))
                    })?;
                    if *left == 0 {
                        *done = true;
                        // Trailers up to the empty line (or the peer closing).
                        for _ in 0..=MAX_HEADERS {
                            if read_line(self.reader)?.is_none_or(|l| l.is_empty()) {
                                return Ok(0);
                            }
                        }
                        return Err(invalid(format!("more than {MAX_HEADERS} trailers")));
                    }
                }
                let want = (*left).min(buf.len() as u64) as usize;
                let n = self.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                *left -= n as u64;
                Ok(n)
            }
        }
    }
}

/// Reads at most `limit` bytes of `body` (for error messages and small documents).
pub(super) fn read_prefix(body: &mut impl Read, limit: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    body.take(limit as u64).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_urls() {
        let u = Url::parse(
            "http://127.0.0.1:6060/debug/pprof/heap?gc=1",
            &["http://"],
            80,
        )
        .unwrap();
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 6060);
        assert_eq!(u.authority, "127.0.0.1:6060");
        assert_eq!(u.path, "/debug/pprof/heap?gc=1");
        let w = Url::parse("ws://[::1]:9229/abc-def", &["ws://"], 80).unwrap();
        assert_eq!(
            (w.host.as_str(), w.port, w.path.as_str()),
            ("::1", 9229, "/abc-def")
        );
        let bare = Url::parse("HTTP://localhost", &["http://"], 80).unwrap();
        assert_eq!((bare.port, bare.path.as_str()), (80, "/"));
        for bad in [
            "https://127.0.0.1/",
            "ftp://x/",
            "http://u:p@127.0.0.1/",
            "http://:80/",
        ] {
            assert!(Url::parse(bad, &["http://"], 80).is_err(), "{bad}");
        }
        let tls = Url::parse("https://127.0.0.1/", &["http://"], 80).unwrap_err();
        assert!(tls.to_string().contains("TLS"), "{tls}");
    }

    #[test]
    fn loopback_only_never_resolves_names() {
        let net = Network::LoopbackOnly;
        assert!(addresses("127.0.0.1", 1, net).is_ok());
        assert!(addresses("127.3.4.5", 1, net).is_ok());
        assert!(addresses("::1", 1, net).is_ok());
        assert_eq!(addresses("LocalHost", 1, net).unwrap().len(), 2);
        for host in ["10.0.0.1", "192.0.2.1", "example.com", "0.0.0.0"] {
            assert!(
                matches!(
                    addresses(host, 1, net),
                    Err(CaptureError::NotLoopback { .. })
                ),
                "{host}"
            );
        }
        assert!(addresses("192.0.2.1", 1, Network::AllowRemote).is_ok());
    }

    fn serve_once(response: &'static [u8]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(response);
        });
        port
    }

    fn get(port: u16) -> (Head, Result<Vec<u8>, CaptureError>) {
        let url = Url::parse(&format!("http://127.0.0.1:{port}/x"), &["http://"], 80).unwrap();
        let deadline = Deadline::after(Duration::from_secs(5));
        let mut conn = Conn::open(&url, Network::LoopbackOnly, deadline, "test", "").unwrap();
        conn.send_get(&url, "Connection: close\r\n").unwrap();
        let head = conn.read_head().unwrap();
        let mut out = Vec::new();
        let r = conn.body(&head).and_then(|mut b| {
            b.read_to_end(&mut out)
                .map(|_| ())
                .map_err(|e| CaptureError::Io {
                    what: "body".into(),
                    source: e,
                })
        });
        (head, r.map(|_| out))
    }

    #[test]
    fn reads_bodies_of_every_framing() {
        let (head, body) = get(serve_once(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloIGNORED",
        ));
        assert_eq!(head.status, 200);
        assert_eq!(body.unwrap(), b"hello");
        let (_, body) = get(serve_once(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
        ));
        assert_eq!(body.unwrap(), b"abcde");
        let (head, body) = get(serve_once(b"HTTP/1.0 404 Not Found\r\n\r\nno such page"));
        assert_eq!((head.status, head.reason.as_str()), (404, "Not Found"));
        assert_eq!(body.unwrap(), b"no such page");
        let (_, body) = get(serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        ));
        assert!(body.is_err());
    }
}
