//! What to send, where, how fast and for how long: [`LoadPlan`], its [`Target`] and
//! [`RequestSpec`]s, and the small `http://host:port/path?query` [`Url`] parser.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::LoadError;

/// A parsed `http://host[:port][/path][?query]` URL. The fragment is dropped; user info,
/// `https` and other schemes are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Host name or IP literal, without the brackets of an IPv6 literal.
    pub host: String,
    /// Port; 80 when the URL names none.
    pub port: u16,
    /// Path and query, always starting with `/`.
    pub path: String,
}

impl Url {
    pub fn parse(url: &str) -> Result<Url, LoadError> {
        let invalid = |reason: &str| LoadError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = url.trim();
        let Some((scheme, rest)) = trimmed.split_once("://") else {
            return Err(invalid("expected http://host:port/path"));
        };
        if scheme.eq_ignore_ascii_case("https") {
            return Err(LoadError::HttpsUnsupported {
                url: url.to_string(),
            });
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(invalid(&format!(
                "unsupported scheme {scheme:?}: only http is supported"
            )));
        }
        let rest = rest.split('#').next().unwrap_or("");
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(invalid("user info (user:password@) is not supported"));
        }
        let (host, port) = if let Some(after) = authority.strip_prefix('[') {
            let Some((host, tail)) = after.split_once(']') else {
                return Err(invalid("unclosed '[' in an IPv6 host"));
            };
            let port = match tail {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| invalid("expected ':port' after ']'"))?,
                ),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("the host contains whitespace"));
        }
        let port = match port {
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| invalid(&format!("bad port {p:?}")))?,
        };
        let path = if path.is_empty() {
            "/".to_string()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(invalid(
                "the path contains spaces or control characters (percent-encode them)",
            ));
        }
        Ok(Url {
            host: host.to_string(),
            port,
            path,
        })
    }
}

/// Where the load goes: the name as the user gave it (sent in the `Host` header) and the
/// address connections are made to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub addr: SocketAddr,
}

impl Target {
    /// Resolves `host` and applies the loopback rule: without `allow_remote`, every address the
    /// name resolves to must be loopback (127.0.0.0/8 or `::1`), otherwise this fails before
    /// anything is connected. When a name has several addresses, IPv4 is preferred.
    pub fn resolve(host: &str, port: u16, allow_remote: bool) -> Result<Target, LoadError> {
        let mut addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => (host, port)
                .to_socket_addrs()
                .map_err(|source| LoadError::Resolve {
                    host: host.to_string(),
                    source,
                })?
                .collect(),
        };
        if !allow_remote {
            if let Some(remote) = addrs.iter().find(|a| !is_loopback(a)) {
                return Err(LoadError::RemoteTarget {
                    host: host.to_string(),
                    addr: *remote,
                });
            }
        }
        addrs.sort_by_key(|a| !a.is_ipv4());
        let addr = *addrs.first().ok_or_else(|| LoadError::Resolve {
            host: host.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"),
        })?;
        Ok(Target {
            host: host.to_string(),
            port,
            addr,
        })
    }

    /// The `Host` header value: the name, bracketed if IPv6, with the port unless it is 80.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

pub(crate) fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().to_canonical().is_loopback()
}

/// One request to send. `Host` is added from the target unless given; `Content-Length` is
/// computed from the body (a `Content-Length` header here is replaced); `Transfer-Encoding` is
/// refused, as bodies are always sent with a length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    pub method: String,
    /// Path and query, starting with `/` (or `*` for `OPTIONS *`).
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RequestSpec {
    /// A `GET` of `path` with no extra headers.
    pub fn get(path: &str) -> RequestSpec {
        RequestSpec {
            method: "GET".to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.method.is_empty() || !self.method.bytes().all(is_token_byte) {
            return Err(format!("bad method {:?}", self.method));
        }
        if !(self.path.starts_with('/') || self.path == "*") {
            return Err(format!("the path {:?} must start with '/'", self.path));
        }
        if self.path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(format!(
                "the path {:?} contains spaces or control characters",
                self.path
            ));
        }
        for (name, value) in &self.headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(format!("bad header name {name:?}"));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(format!(
                    "the value of header {name:?} contains a line break"
                ));
            }
            if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(
                    "Transfer-Encoding is not supported in requests: bodies are sent with \
                     Content-Length"
                        .to_string(),
                );
            }
        }
        Ok(())
    }
}

pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A bounded load: where, what, how many connections, how fast, and when to stop.
///
/// A plain struct: build it with [`LoadPlan::new`] or [`LoadPlan::from_url`] and set fields.
/// [`run`](crate::run) validates it (a bound is required; the target must be loopback unless
/// `allow_remote`).
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub target: Target,
    /// Sent in order, cycling: request number `k` (counting from 0 in each run) uses
    /// `requests[k % requests.len()]`.
    pub requests: Vec<RequestSpec>,
    /// Number of keep-alive connections (the concurrency). Default 8.
    pub connections: usize,
    /// Constant rate in requests per second, spread evenly over time (request `k` is due at
    /// `k / rate` seconds after the start). `None`: closed loop, each connection sends its next
    /// request as soon as the previous response is in.
    pub rate: Option<f64>,
    /// At most this many requests are *sent* (counting failed ones).
    pub max_requests: Option<u64>,
    /// Stop sending and give up on requests in flight after this long.
    pub max_duration: Option<Duration>,
    /// Per request (from the first byte written to the last byte read) and per connect.
    /// Default 10 s.
    pub timeout: Duration,
    /// Allow a target that is not loopback.
    pub allow_remote: bool,
    /// Event-loop threads; 0 (the default) picks `min(2, cores, connections)`.
    pub threads: usize,
}

impl LoadPlan {
    /// A plan with defaults (8 connections, closed loop, 10 s timeout, loopback only, no bounds
    /// yet: set `max_requests` or `max_duration`).
    pub fn new(target: Target, requests: Vec<RequestSpec>) -> LoadPlan {
        LoadPlan {
            allow_remote: false,
            target,
            requests,
            connections: 8,
            rate: None,
            max_requests: None,
            max_duration: None,
            timeout: Duration::from_secs(10),
            threads: 0,
        }
    }

    /// Parses `url`, resolves its host under the loopback rule, and makes a plan that `GET`s its
    /// path.
    pub fn from_url(url: &str, allow_remote: bool) -> Result<LoadPlan, LoadError> {
        let url = Url::parse(url)?;
        let target = Target::resolve(&url.host, url.port, allow_remote)?;
        let mut plan = LoadPlan::new(target, vec![RequestSpec::get(&url.path)]);
        plan.allow_remote = allow_remote;
        Ok(plan)
    }

    /// Checks everything [`run`](crate::run) needs, without connecting.
    pub fn validate(&self) -> Result<(), LoadError> {
        let bad = |m: String| Err(LoadError::InvalidPlan(m));
        if !self.allow_remote && !is_loopback(&self.target.addr) {
            return Err(LoadError::RemoteTarget {
                host: self.target.host.clone(),
                addr: self.target.addr,
            });
        }
        if self.max_requests.is_none() && self.max_duration.is_none() {
            return bad("no bound: set max_requests, max_duration or both".to_string());
        }
        if self.requests.is_empty() {
            return bad("no requests to send".to_string());
        }
        if self.connections == 0 {
            return bad("connections must be at least 1".to_string());
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                return bad(format!("rate must be a positive number, not {rate}"));
            }
        }
        if self.timeout.is_zero() {
            return bad("timeout must be positive".to_string());
        }
        for (i, r) in self.requests.iter().enumerate() {
            r.validate()
                .or_else(|m| bad(format!("request #{}: {m}", i + 1)))?;
        }
        Ok(())
    }
}
