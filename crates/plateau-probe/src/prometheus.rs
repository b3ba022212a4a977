//! A service's Prometheus `/metrics` endpoint: fetching it over plain HTTP/1.1, parsing the
//! text exposition format (0.0.4, and OpenMetrics text where it is the same), and picking out
//! the memory figures plateau uses ([`MemoryMetrics`]).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// A scrape larger than this is refused rather than held in memory.
pub const MAX_BODY_BYTES: usize = 64 << 20;
const MAX_HEADER_LINE: usize = 8 << 10;
const MAX_HEADERS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct MetricSample {
    pub name: String,
    /// In exposition order, values unescaped.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

impl MetricSample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: expected {expected}, found {found}")]
pub struct ExpositionError {
    /// 1-based.
    pub line: usize,
    pub expected: &'static str,
    /// A short excerpt of what was there instead.
    pub found: String,
}

const METRIC_TYPES: &[&str] = &[
    "counter",
    "gauge",
    "histogram",
    "summary",
    "untyped",
    // OpenMetrics
    "unknown",
    "info",
    "stateset",
    "gaugehistogram",
];

/// Parses a text exposition. `# HELP`/`# TYPE` are checked for shape, other comments skipped.
/// After OpenMetrics' `# EOF` nothing may follow, and timestamps are read as seconds (0.0.4
/// timestamps are milliseconds).
pub fn parse_exposition(text: &str) -> Result<Vec<MetricSample>, ExpositionError> {
    let mut samples = Vec::new();
    let mut raw_timestamps = Vec::new();
    let mut openmetrics = false;
    for (i, line) in text.split('\n').enumerate() {
        let number = i + 1;
        // Leading blanks are allowed before samples and comments alike.
        let line = line.strip_suffix('\r').unwrap_or(line).trim_start();
        if line.trim_end().is_empty() {
            continue;
        }
        if openmetrics {
            return Err(error(number, "nothing after '# EOF'", line));
        }
        let mut c = Cursor::new(line, number);
        if line.starts_with('#') {
            openmetrics = line.trim_end() == "# EOF";
            if !openmetrics {
                c.comment()?;
            }
            continue;
        }
        let (sample, timestamp) = c.sample()?;
        samples.push(sample);
        raw_timestamps.push(timestamp);
    }
    for (sample, raw) in samples.iter_mut().zip(raw_timestamps) {
        let scale = if openmetrics { 1000.0 } else { 1.0 };
        sample.timestamp_ms = raw.map(|t| (t * scale).round() as i64);
    }
    Ok(samples)
}

fn error(line: usize, expected: &'static str, rest: &str) -> ExpositionError {
    let found = if rest.is_empty() {
        "end of line".to_string()
    } else {
        let excerpt: String = rest.chars().take(24).collect();
        format!("{excerpt:?}")
    };
    ExpositionError {
        line,
        expected,
        found,
    }
}

struct Cursor<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str, line: usize) -> Self {
        Self { rest: text, line }
    }

    fn fail<T>(&self, expected: &'static str) -> Result<T, ExpositionError> {
        Err(error(self.line, expected, self.rest))
    }

    fn skip_blanks(&mut self) -> usize {
        let trimmed = self.rest.trim_start_matches([' ', '\t']);
        let skipped = self.rest.len() - trimmed.len();
        self.rest = trimmed;
        skipped
    }

    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names, without `:` for label names.
    fn name(&mut self, colons: bool, expected: &'static str) -> Result<&'a str, ExpositionError> {
        let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || (colons && b == b':');
        let len = self.rest.bytes().take_while(|&b| ok(b)).count();
        if len == 0 || self.rest.as_bytes()[0].is_ascii_digit() {
            return self.fail(expected);
        }
        let (name, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(name)
    }

    /// The next blank-delimited token.
    fn token(&mut self) -> &'a str {
        let len = self.rest.find([' ', '\t']).unwrap_or(self.rest.len());
        let (token, rest) = self.rest.split_at(len);
        self.rest = rest;
        token
    }

    fn comment(&mut self) -> Result<(), ExpositionError> {
        self.eat('#');
        self.skip_blanks();
        let keyword = self.token();
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(());
        }
        if self.skip_blanks() == 0 {
            return self.fail("a metric name after # HELP/# TYPE");
        }
        self.name(true, "a metric name after # HELP/# TYPE")?;
        if keyword == "TYPE" {
            self.skip_blanks();
            let kind = self.token();
            if !METRIC_TYPES.contains(&kind) {
                self.rest = kind;
                return self.fail("a metric type (counter, gauge, histogram, summary, untyped)");
            }
            self.skip_blanks();
            if !self.rest.is_empty() {
                return self.fail("end of line after the metric type");
            }
        }
        Ok(())
    }

    fn sample(&mut self) -> Result<(MetricSample, Option<f64>), ExpositionError> {
        let name = self.name(true, "a metric name")?.to_string();
        let mut blanks = self.skip_blanks();
        let mut labels = Vec::new();
        if self.eat('{') {
            labels = self.labels()?;
            blanks = self.skip_blanks();
        }
        if blanks == 0 {
            return self.fail("a blank before the value");
        }
        let value = self.value()?;
        let mut timestamp = None;
        // An OpenMetrics exemplar (`# {trace_id="..."} 1.0`) may follow; it is not a reading.
        let at_end = |c: &Self| c.rest.is_empty() || c.rest.starts_with('#');
        if self.skip_blanks() > 0 && !at_end(self) {
            timestamp = Some(self.timestamp()?);
            self.skip_blanks();
        }
        if !at_end(self) {
            return self.fail("end of line after the value and timestamp");
        }
        let sample = MetricSample {
            name,
            labels,
            value,
            timestamp_ms: None,
        };
        Ok((sample, timestamp))
    }

    fn labels(&mut self) -> Result<Vec<(String, String)>, ExpositionError> {
        let mut labels = Vec::new();
        loop {
            self.skip_blanks();
            if self.eat('}') {
                return Ok(labels);
            }
            let name = self.name(false, "a label name or '}'")?.to_string();
            self.skip_blanks();
            if !self.eat('=') {
                return self.fail("'=' after the label name");
            }
            self.skip_blanks();
            if !self.eat('"') {
                return self.fail("a '\"'-quoted label value");
            }
            labels.push((name, self.label_value()?));
            self.skip_blanks();
            if !self.eat(',') {
                self.skip_blanks();
                if !self.eat('}') {
                    return self.fail("',' or '}' after the label value");
                }
                return Ok(labels);
            }
        }
    }

    /// After the opening quote; consumes the closing one.
    fn label_value(&mut self) -> Result<String, ExpositionError> {
        let mut value = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[i + 1..];
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    _ => {
                        self.rest = &self.rest[i..];
                        return self.fail("an escape \\\\, \\\" or \\n");
                    }
                },
                c => value.push(c),
            }
        }
        self.rest = "";
        self.fail("a closing '\"' of the label value")
    }

    /// Rust's float syntax matches Go's `strconv.ParseFloat`, which Prometheus uses, for what
    /// clients print: decimal and exponent forms, `NaN`, `+Inf`, `-Inf` (any case).
    fn value(&mut self) -> Result<f64, ExpositionError> {
        let token = self.token();
        match token.parse() {
            Ok(v) => Ok(v),
            Err(_) => {
                self.rest = token;
                self.fail("a number, NaN, +Inf or -Inf")
            }
        }
    }

    fn timestamp(&mut self) -> Result<f64, ExpositionError> {
        let token = self.token();
        match token.parse::<f64>().ok().filter(|t| t.is_finite()) {
            Some(t) => Ok(t),
            None => {
                self.rest = token;
                self.fail("a timestamp")
            }
        }
    }
}

/// What plateau reads from a scrape, in bytes. `None` where the service does not export it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryMetrics {
    pub resident: Option<u64>,
    pub heap_used: Option<u64>,
    pub heap_limit: Option<u64>,
    pub working_set: Option<u64>,
    /// A change between scrapes means the process restarted.
    pub process_start_time_s: Option<f64>,
    /// The metric names the figures came from, for the evidence text.
    pub source_metrics: Vec<String>,
}

/// Picks the memory figures out of a scrape. A figure that needs one series (resident memory,
/// working set, ...) is left out when several are exported (e.g. cAdvisor's one per
/// container): the caller narrows the samples by label first.
pub fn memory_metrics(samples: &[MetricSample]) -> MemoryMetrics {
    let mut sources: Vec<String> = Vec::new();
    let mut used = |name: &str| {
        if !sources.iter().any(|n| n == name) {
            sources.push(name.to_string());
        }
    };
    let single = |name: &str| -> Option<f64> {
        let mut it = samples.iter().filter(|s| s.name == name);
        match (it.next(), it.next()) {
            (Some(s), None) => Some(s.value),
            _ => None,
        }
    };
    // JVM pools are labelled area="heap"|"nonheap" (client_java, simpleclient_hotspot as
    // jvm_memory_bytes_*, Micrometer with one series per pool id): the heap is their sum.
    let heap_sum = |name: &str| -> Option<f64> {
        let values: Vec<f64> = samples
            .iter()
            .filter(|s| s.name == name && s.label("area") == Some("heap"))
            .map(|s| s.value)
            .collect();
        // Micrometer reports -1 for a pool without a maximum: then the heap has none either.
        (!values.is_empty() && values.iter().all(|v| *v >= 0.0)).then(|| values.iter().sum())
    };

    let mut pick = |names: &[&str], read: &dyn Fn(&str) -> Option<f64>| -> Option<u64> {
        names.iter().find_map(|name| {
            let bytes = read(name).and_then(to_bytes)?;
            used(name);
            Some(bytes)
        })
    };
    let resident = pick(&["process_resident_memory_bytes"], &single);
    // Node (prom-client), JVM, Go (client_golang: in-use spans, fragmentation included, are
    // what the heap holds; heap_alloc counts object bytes only). Python's client has no heap.
    let heap_used = pick(&["nodejs_heap_size_used_bytes"], &single)
        .or_else(|| {
            pick(
                &["jvm_memory_used_bytes", "jvm_memory_bytes_used"],
                &heap_sum,
            )
        })
        .or_else(|| {
            pick(
                &[
                    "go_memstats_heap_inuse_bytes",
                    "go_memstats_heap_alloc_bytes",
                ],
                &single,
            )
        });
    // Node's prom-client has no heap limit (heap_size_total is the committed size); Go has none.
    let heap_limit = pick(&["jvm_memory_max_bytes", "jvm_memory_bytes_max"], &heap_sum);
    let working_set = pick(&["container_memory_working_set_bytes"], &single);
    let process_start_time_s =
        single("process_start_time_seconds").filter(|v| v.is_finite() && *v > 0.0);
    if process_start_time_s.is_some() {
        used("process_start_time_seconds");
    }
    MemoryMetrics {
        resident,
        heap_used,
        heap_limit,
        working_set,
        process_start_time_s,
        source_metrics: sources,
    }
}

fn to_bytes(v: f64) -> Option<u64> {
    (v.is_finite() && v >= 0.0 && v < u64::MAX as f64).then(|| v.round() as u64)
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0:?}: only http:// URLs are supported (put a plain-HTTP endpoint or proxy in front of https)")]
    UnsupportedScheme(String),
    #[error("{url:?}: invalid URL: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error("cannot resolve {host:?}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        authority: String,
        source: io::Error,
    },
    #[error("{url}: no complete response within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("{url}: {source}")]
    Io { url: String, source: io::Error },
    #[error("{url}: HTTP status {status} {reason}")]
    Status {
        url: String,
        status: u16,
        reason: String,
    },
    #[error("{url}: malformed HTTP response: {detail}")]
    BadResponse { url: String, detail: String },
    #[error("{url}: response body larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: response body is not UTF-8")]
    NotUtf8 { url: String },
}

/// GETs `url` (http:// only) and returns the body. `timeout` bounds the whole exchange:
/// connecting, and every read until the body is complete.
pub fn fetch_metrics(url: &str, timeout: Duration) -> Result<String, FetchError> {
    let target = Target::parse(url)?;
    // A year is "no timeout" and keeps `Instant` arithmetic from overflowing.
    let timeout = timeout.min(Duration::from_secs(365 * 86_400));
    let deadline = Instant::now() + timeout;
    let timed_out = || FetchError::Timeout {
        url: url.to_string(),
        timeout,
    };
    let io_err = |source: io::Error| match source.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => timed_out(),
        _ => FetchError::Io {
            url: url.to_string(),
            source,
        },
    };
    let bad = |detail: String| FetchError::BadResponse {
        url: url.to_string(),
        detail,
    };

    let addrs: Vec<_> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|source| FetchError::Resolve {
            host: target.host.clone(),
            source,
        })?
        .collect();
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no addresses");
    let mut stream = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(timed_out()),
            Err(e) => last_error = e,
        }
    }
    let mut stream = stream.ok_or_else(|| FetchError::Connect {
        authority: target.authority.clone(),
        source: last_error,
    })?;

    // Ask for 0.0.4 text: no compression (none is sent), no protobuf.
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: plateau\r\n\
         Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    let left = deadline.saturating_duration_since(Instant::now());
    stream
        .set_write_timeout(Some(left.max(Duration::from_millis(1))))
        .map_err(io_err)?;
    stream.write_all(request.as_bytes()).map_err(io_err)?;

    let wire = |e: Wire| match e {
        Wire::Io(source) => io_err(source),
        Wire::Bad(detail) => bad(detail),
        Wire::TooLarge => FetchError::TooLarge {
            url: url.to_string(),
            limit: MAX_BODY_BYTES,
        },
    };
    let mut reader = BufReader::new(DeadlineReader { stream, deadline });
    let head = loop {
        let head = read_head(&mut reader).map_err(wire)?;
        // 1xx responses are interim; the real one follows.
        if !(100..200).contains(&head.status) {
            break head;
        }
    };
    if head.status != 200 {
        return Err(FetchError::Status {
            url: url.to_string(),
            status: head.status,
            reason: head.reason,
        });
    }
    if let Some(encoding) = head
        .content_encoding
        .as_deref()
        .filter(|e| *e != "identity")
    {
        return Err(bad(format!("unexpected Content-Encoding {encoding:?}")));
    }
    let body = read_body(&mut reader, &head).map_err(wire)?;
    String::from_utf8(body).map_err(|_| FetchError::NotUtf8 {
        url: url.to_string(),
    })
}

struct Target {
    host: String,
    port: u16,
    /// `host[:port]` as written, for the Host header.
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, FetchError> {
        let invalid = |reason| FetchError::InvalidUrl {
            url: url.to_string(),
            reason,
        };
        let Some(rest) = strip_prefix_ignore_case(url, "http://") else {
            return Err(FetchError::UnsupportedScheme(url.to_string()));
        };
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
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(invalid("unclosed '[' in host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let port = match port {
            None => 80,
            Some(p) => p.parse().map_err(|_| invalid("port is not a number"))?,
        };
        if path
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(invalid("blank or control character in the path"));
        }
        Ok(Self {
            host: host.to_string(),
            port,
            authority: authority.to_string(),
            path,
        })
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Re-arms the socket's read timeout before every read so that the whole response, not each
/// read, is bounded by the deadline (a server dripping a byte a second would never time out).
struct DeadlineReader {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for DeadlineReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

struct Head {
    status: u16,
    reason: String,
    content_length: Option<u64>,
    chunked: bool,
    content_encoding: Option<String>,
}

/// How reading the response went wrong, before it is tied to the URL.
enum Wire {
    Io(io::Error),
    Bad(String),
    TooLarge,
}

impl From<io::Error> for Wire {
    fn from(e: io::Error) -> Self {
        Wire::Io(e)
    }
}

/// Reads a CRLF (or LF) line of at most `MAX_HEADER_LINE` bytes; `None` at end of input.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, Wire> {
    let mut line = Vec::new();
    let n = reader
        .take(MAX_HEADER_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(Wire::Bad(if n > MAX_HEADER_LINE {
            format!("line longer than {MAX_HEADER_LINE} bytes")
        } else {
            "connection closed mid-line".to_string()
        }));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| Wire::Bad("header line is not UTF-8".into()))
}

fn read_head(reader: &mut impl BufRead) -> Result<Head, Wire> {
    let status_line = read_line(reader)?
        .ok_or_else(|| Wire::Bad("connection closed before a status line".into()))?;
    let mut parts = status_line.splitn(3, ' ');
    let (version, code, reason) = (parts.next(), parts.next(), parts.next());
    let status = match (version, code.and_then(|c| c.parse::<u16>().ok())) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") && (100..1000).contains(&code) => code,
        _ => {
            return Err(Wire::Bad(format!(
                "expected 'HTTP/1.x <status>', found {status_line:?}"
            )))
        }
    };
    let mut head = Head {
        status,
        reason: reason.unwrap_or_default().to_string(),
        content_length: None,
        chunked: false,
        content_encoding: None,
    };
    for _ in 0..=MAX_HEADERS {
        let line = read_line(reader)?
            .ok_or_else(|| Wire::Bad("connection closed inside the headers".into()))?;
        if line.is_empty() {
            return Ok(head);
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| Wire::Bad(format!("expected 'Name: value' header, found {line:?}")))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let len = value
                .parse()
                .map_err(|_| Wire::Bad(format!("bad Content-Length {value:?}")))?;
            head.content_length = Some(len);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked is always the last coding when present (RFC 9112 section 6.1).
            head.chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("content-encoding") {
            head.content_encoding = Some(value.to_ascii_lowercase());
        }
    }
    Err(Wire::Bad(format!("more than {MAX_HEADERS} headers")))
}

fn read_body(reader: &mut impl BufRead, head: &Head) -> Result<Vec<u8>, Wire> {
    let eof = |e: io::Error, what: &str| match e.kind() {
        io::ErrorKind::UnexpectedEof => Wire::Bad(format!("connection closed {what}")),
        _ => Wire::Io(e),
    };
    if head.chunked {
        return read_chunked(reader, eof);
    }
    if let Some(len) = head.content_length {
        if len > MAX_BODY_BYTES as u64 {
            return Err(Wire::TooLarge);
        }
        let mut body = vec![0; len as usize];
        reader
            .read_exact(&mut body)
            .map_err(|e| eof(e, "before Content-Length bytes"))?;
        return Ok(body);
    }
    let mut body = Vec::new();
    reader
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(Wire::TooLarge);
    }
    Ok(body)
}

fn read_chunked(
    reader: &mut impl BufRead,
    eof: impl Fn(io::Error, &str) -> Wire,
) -> Result<Vec<u8>, Wire> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?
            .ok_or_else(|| Wire::Bad("connection closed before the last chunk".into()))?;
        // Chunk extensions (`;name=value`) carry nothing we need.
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| Wire::Bad(format!("expected a hex chunk size, found {line:?}")))?;
        if size == 0 {
            break;
        }
        if body.len() as u64 + size > MAX_BODY_BYTES as u64 {
            return Err(Wire::TooLarge);
        }
        let start = body.len();
        body.resize(start + size as usize, 0);
        reader
            .read_exact(&mut body[start..])
            .map_err(|e| eof(e, "inside a chunk"))?;
        if read_line(reader)?.is_none_or(|l| !l.is_empty()) {
            return Err(Wire::Bad("expected CRLF after chunk data".into()));
        }
    }
    // Trailers, up to the empty line (or the peer closing, which is harmless here).
    for _ in 0..=MAX_HEADERS {
        if read_line(reader)?.is_none_or(|l| l.is_empty()) {
            return Ok(body);
        }
    }
    Err(Wire::Bad(format!("more than {MAX_HEADERS} trailers")))
}
