//! The requests file: several requests to cycle through, one per block.
//!
//! ```text
//! # A comment: lines starting with '#' before a request line or among its headers.
//! GET /items?page=1
//! Accept: application/json
//! ###
//! POST /items HTTP/1.1
//! Content-Type: application/json
//!
//! {"name": "widget",
//!  "size": 3}
//! ### anything after three hashes is a comment
//! DELETE /items/1
//! ```
//!
//! Each block is:
//! 1. a request line, `METHOD /path?query`, optionally followed by `HTTP/1.1`; the path is
//!    relative to the target given elsewhere (an absolute `http://...` URL is refused);
//! 2. header lines, `Name: value`, up to the first blank line or the end of the block;
//! 3. after that blank line, an optional body: every line up to the end of the block, without
//!    the trailing blank lines and without the last line break; line breaks inside the body are
//!    kept as they are in the file;
//! 4. the end of the block: a line starting with `###`, or the end of the file.
//!
//! Blank lines and comments between blocks are ignored. `Host` is added from the target and
//! `Content-Length` computed from the body. A body whose first line looks like a request line
//! is refused (a forgotten `###`). Errors name the file and the 1-based line.

use std::path::Path;

use crate::plan::is_token_byte;
use crate::{LoadError, RequestSpec};

/// Reads and parses a requests file; errors name `path` and the line.
pub fn read_requests_file(path: &Path) -> Result<Vec<RequestSpec>, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        LoadError::RequestsFile {
            file: path.display().to_string(),
            line: valid.iter().filter(|&&b| b == b'\n').count() + 1,
            message: "not valid UTF-8".to_string(),
        }
    })?;
    parse_requests(&text, &path.display().to_string())
}

/// Parses the text of a requests file; `file` is only used to name it in errors.
pub fn parse_requests(text: &str, file: &str) -> Result<Vec<RequestSpec>, LoadError> {
    let err = |line: usize, message: String| LoadError::RequestsFile {
        file: file.to_string(),
        line,
        message,
    };
    // (1-based number, byte offset of the line start, line without its terminator)
    let mut lines = Vec::new();
    let mut offset = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let content = raw.strip_suffix('\n').unwrap_or(raw);
        let content = content.strip_suffix('\r').unwrap_or(content);
        lines.push((i + 1, offset, content));
        offset += raw.len();
    }

    let mut requests = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (number, _, line) = lines[i];
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let mut spec = parse_request_line(trimmed).map_err(|m| err(number, m))?;
        i += 1;
        // Headers.
        let mut body_follows = false;
        while i < lines.len() {
            let (number, _, line) = lines[i];
            if line.starts_with("###") {
                break;
            }
            i += 1;
            if line.trim().is_empty() {
                body_follows = true;
                break;
            }
            if line.trim_start().starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(err(
                    number,
                    format!("expected a header line `Name: value`, found {line:?}"),
                ));
            };
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(err(number, format!("bad header name {name:?}")));
            }
            if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(err(
                    number,
                    "Transfer-Encoding is not supported: bodies are sent with Content-Length"
                        .to_string(),
                ));
            }
            spec.headers
                .push((name.to_string(), value.trim().to_string()));
        }
        // Body.
        if body_follows {
            let start = i;
            while i < lines.len() && !lines[i].2.starts_with("###") {
                i += 1;
            }
            let body_lines = &lines[start..i];
            let first = body_lines.iter().position(|l| !l.2.trim().is_empty());
            let last = body_lines.iter().rposition(|l| !l.2.trim().is_empty());
            if let (Some(first), Some(last)) = (first, last) {
                let (first_number, _, first_line) = body_lines[first];
                if first == 0 && parse_request_line(first_line.trim()).is_ok() {
                    return Err(err(
                        first_number,
                        "this looks like the next request, but it would be the body of the \
                         previous one: end each request with a line `###`"
                            .to_string(),
                    ));
                }
                let (_, begin, _) = body_lines[first];
                let (_, end_start, end_line) = body_lines[last];
                spec.body = text.as_bytes()[begin..end_start + end_line.len()].to_vec();
            }
        }
        // Skip the `###` separator.
        if i < lines.len() && lines[i].2.starts_with("###") {
            i += 1;
        }
        requests.push(spec);
    }
    if requests.is_empty() {
        return Err(err(
            lines.len().max(1),
            "no requests found (expected a line like `GET /path`)".to_string(),
        ));
    }
    Ok(requests)
}

fn parse_request_line(line: &str) -> Result<RequestSpec, String> {
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let Some(path) = parts.next() else {
        return Err(format!(
            "expected a request line `METHOD /path`, found {line:?}"
        ));
    };
    if let Some(version) = parts.next() {
        if !version.eq_ignore_ascii_case("HTTP/1.1") && !version.eq_ignore_ascii_case("HTTP/1.0") {
            return Err(format!(
                "expected `METHOD /path` or `METHOD /path HTTP/1.1`, found {line:?}"
            ));
        }
    }
    if parts.next().is_some() {
        return Err(format!(
            "unexpected text after the HTTP version in {line:?}"
        ));
    }
    if !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "expected an upper-case method (GET, POST, ...), found {method:?}"
        ));
    }
    if path.contains("://") {
        return Err(format!(
            "use a path such as `/items`, not the URL {path:?}: the target is set elsewhere"
        ));
    }
    if !(path.starts_with('/') || path == "*") {
        return Err(format!("the path {path:?} must start with '/'"));
    }
    Ok(RequestSpec {
        method: method.to_string(),
        path: path.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
    })
}
