//! A pprof heap profile over HTTP (Go's `net/http/pprof`, Rust services exposing the same).

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use super::http::{read_prefix, Conn, Deadline, Url};
use super::{quote_start, AtomicFile, CaptureError, CaptureReport, Network};

/// GETs `url` (e.g. `http://127.0.0.1:6060/debug/pprof/heap?gc=1`; loopback only) and saves the
/// profile at `path` atomically. The body must be a gzip-compressed profile (`1f 8b`): an HTML
/// error page or a `?debug=1` text profile is refused with its first bytes quoted.
pub fn capture_pprof(
    url: &str,
    path: &Path,
    timeout: Duration,
) -> Result<CaptureReport, CaptureError> {
    capture_pprof_with(url, path, timeout, Network::LoopbackOnly)
}

/// [`capture_pprof`], from a remote host too if `network` allows.
pub fn capture_pprof_with(
    url: &str,
    path: &Path,
    timeout: Duration,
    network: Network,
) -> Result<CaptureReport, CaptureError> {
    let started = Instant::now();
    let deadline = Deadline::after(timeout);
    let parsed = Url::parse(url, &["http://"], 80)?;
    let mut conn = Conn::open(
        &parsed,
        network,
        deadline,
        "the pprof endpoint",
        "; is the service up, and does it serve net/http/pprof on that port?",
    )?;
    conn.what = url.to_string();
    conn.send_get(&parsed, "Accept: */*\r\nConnection: close\r\n")?;
    let head = conn.read_head()?;
    let map = conn.error_mapper();
    let mut body = conn.body(&head)?;
    if head.status != 200 {
        let start = read_prefix(&mut body, 200).unwrap_or_default();
        return Err(CaptureError::HttpStatus {
            url: url.to_string(),
            status: head.status,
            reason: head.reason,
            body: format!("; the response starts with {}", quote_start(&start)),
        });
    }
    if let Some(encoding) = head
        .header("content-encoding")
        .filter(|e| !e.eq_ignore_ascii_case("identity"))
    {
        return Err(CaptureError::Protocol {
            what: url.to_string(),
            detail: format!("unexpected Content-Encoding {encoding:?} (none was asked for)"),
        });
    }
    // The start decides before anything is written.
    let start = read_prefix(&mut body, 64).map_err(&map)?;
    if !start.starts_with(&[0x1f, 0x8b]) {
        let hint = if start.starts_with(b"heap profile:") {
            " (a text profile: drop ?debug=1 from the URL)"
        } else {
            ""
        };
        return Err(CaptureError::NotPprof {
            url: url.to_string(),
            start: format!("{}{hint}", quote_start(&start)),
        });
    }
    let mut file = AtomicFile::create(path)?;
    file.write_all(&start)?;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = body.read(&mut buf).map_err(&map)?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])?;
    }
    let bytes = file.commit()?;
    Ok(CaptureReport {
        path: path.to_path_buf(),
        bytes,
        duration: started.elapsed(),
    })
}
