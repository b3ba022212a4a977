//! A V8 heap snapshot of a running Node process through its inspector (the Chrome DevTools
//! Protocol over a WebSocket): discovery, `HeapProfiler.takeHeapSnapshot`, chunks streamed to
//! the file.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use super::http::{read_prefix, split_host_port, Conn, Deadline, Url};
use super::ws::WebSocket;
use super::{proc, AtomicFile, CaptureError, CaptureReport, Network};

/// Where Node opens its inspector on `SIGUSR1` (not configurable from outside).
pub const INSPECTOR_SIGNAL_PORT: u16 = 9229;

/// A `/json/list` larger than this is not an inspector's.
const MAX_LIST_BYTES: usize = 1 << 20;

const INSPECTOR: &str = "the Node inspector";
const NOT_LISTENING: &str = "; is the process running with --inspect (or was it sent SIGUSR1)? \
                             Node prints the address as 'Debugger listening on ws://...'";

/// The WebSocket URL in Node's banner `Debugger listening on ws://127.0.0.1:PORT/UUID` (printed
/// on stderr when the inspector starts; with `--inspect=127.0.0.1:0` the only place the port
/// chosen shows).
pub fn parse_inspector_banner(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("Debugger listening on ")?.trim();
    let url = rest.split_whitespace().next()?;
    let after = url.strip_prefix("ws://")?;
    let (authority, path) = after.split_once('/')?;
    let (host, port) = split_host_port(authority).ok()?;
    (!host.is_empty() && port.is_some() && !path.is_empty()).then(|| url.to_string())
}

/// Asks the inspector HTTP endpoint at `addr` (`host:port`, a bare port, or `http://host:port`)
/// for its targets (`GET /json/list`) and returns the first one's `webSocketDebuggerUrl`.
pub fn discover_inspector(
    addr: &str,
    timeout: Duration,
    network: Network,
) -> Result<String, CaptureError> {
    discover(addr, Deadline::after(timeout), network)
}

fn discover(addr: &str, deadline: Deadline, network: Network) -> Result<String, CaptureError> {
    let base = if addr.contains("://") {
        addr.to_string()
    } else if addr.bytes().all(|b| b.is_ascii_digit()) && !addr.is_empty() {
        format!("http://127.0.0.1:{addr}")
    } else {
        format!("http://{addr}")
    };
    let mut url = Url::parse(&base, &["http://"], INSPECTOR_SIGNAL_PORT)?;
    url.path = "/json/list".to_string();
    let list_url = format!("http://{}{}", url.authority, url.path);
    let mut conn = Conn::open(&url, network, deadline, INSPECTOR, NOT_LISTENING)?;
    conn.send_get(&url, "Accept: application/json\r\nConnection: close\r\n")?;
    let head = conn.read_head()?;
    let map = conn.error_mapper();
    let body = read_prefix(&mut conn.body(&head)?, MAX_LIST_BYTES + 1).map_err(map)?;
    if head.status != 200 {
        return Err(CaptureError::HttpStatus {
            url: list_url,
            status: head.status,
            reason: head.reason,
            body: format!("; the response starts with {}", super::quote_start(&body)),
        });
    }
    let bad = |detail: String| CaptureError::Protocol {
        what: list_url.clone(),
        detail,
    };
    if body.len() > MAX_LIST_BYTES {
        return Err(bad(format!("more than {MAX_LIST_BYTES} bytes of targets")));
    }
    let targets: Value = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "not a JSON target list ({e}); it starts with {}",
            super::quote_start(&body)
        ))
    })?;
    let targets = targets
        .as_array()
        .ok_or_else(|| bad("expected a JSON array of targets".into()))?;
    targets
        .iter()
        .find_map(|t| t.get("webSocketDebuggerUrl")?.as_str())
        .map(str::to_string)
        .ok_or(CaptureError::NoInspectorTarget { url: list_url })
}

/// A CDP session with one Node process.
pub struct NodeInspector {
    ws: WebSocket,
    url: String,
    next_id: u64,
}

impl NodeInspector {
    /// Connects to `target`: a `ws://` debugger URL (as in Node's banner), or the inspector's
    /// `host:port` / bare port / `http://host:port` (found through `/json/list`). Loopback
    /// only. `timeout` bounds discovery and the WebSocket handshake.
    pub fn connect(target: &str, timeout: Duration) -> Result<Self, CaptureError> {
        Self::connect_with(target, timeout, Network::LoopbackOnly)
    }

    /// [`NodeInspector::connect`], to a remote host too if `network` allows.
    pub fn connect_with(
        target: &str,
        timeout: Duration,
        network: Network,
    ) -> Result<Self, CaptureError> {
        Self::open(target, Deadline::after(timeout), network)
    }

    fn open(target: &str, deadline: Deadline, network: Network) -> Result<Self, CaptureError> {
        let target = target.trim();
        let ws_url = if target.len() >= 5 && target[..5].eq_ignore_ascii_case("ws://") {
            target.to_string()
        } else {
            discover(target, deadline, network)?
        };
        // The URL from /json/list is checked like any other: loopback unless allowed.
        let url = Url::parse(&ws_url, &["ws://"], 80)?;
        let ws = WebSocket::connect(&url, network, deadline, INSPECTOR, NOT_LISTENING)?;
        Ok(NodeInspector {
            ws,
            url: ws_url,
            next_id: 1,
        })
    }

    /// The `ws://` URL of this session.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn send(&mut self, method: &str, params: Value) -> Result<u64, CaptureError> {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({"id": id, "method": method, "params": params});
        self.ws.send_text(&message.to_string())?;
        Ok(id)
    }

    fn parse(&self, text: &str) -> Result<Value, CaptureError> {
        serde_json::from_str(text).map_err(|e| CaptureError::Protocol {
            what: self.ws.what().to_string(),
            detail: format!("a message that is not JSON: {e}"),
        })
    }

    /// Sends one CDP command and returns its `result`; events meanwhile are ignored.
    pub fn call(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, CaptureError> {
        self.call_until(method, params, Deadline::after(timeout))
    }

    fn call_until(
        &mut self,
        method: &str,
        params: Value,
        deadline: Deadline,
    ) -> Result<Value, CaptureError> {
        self.ws.set_deadline(deadline);
        let id = self.send(method, params)?;
        loop {
            let text = self.ws.recv_text().map_err(|e| in_call(e, method))?;
            let mut message = self.parse(&text)?;
            if message.get("id").and_then(Value::as_u64) == Some(id) {
                return response(method, &mut message);
            }
        }
    }

    /// The target's process id (`process.pid`), e.g. to check that a port belongs to the
    /// process meant.
    pub fn pid(&mut self, timeout: Duration) -> Result<u32, CaptureError> {
        self.pid_until(Deadline::after(timeout))
    }

    fn pid_until(&mut self, deadline: Deadline) -> Result<u32, CaptureError> {
        let result = self.call_until(
            "Runtime.evaluate",
            json!({"expression": "process.pid", "returnByValue": true}),
            deadline,
        )?;
        result
            .pointer("/result/value")
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(|| CaptureError::Protocol {
                what: self.ws.what().to_string(),
                detail: format!("process.pid evaluated to {result}"),
            })
    }

    /// Takes a heap snapshot into `path` (atomically: `path.tmp`, fsync, rename). A full GC
    /// runs first. `on_progress(done, total)` follows V8's progress reports (objects walked).
    pub fn take_heap_snapshot(
        &mut self,
        path: &Path,
        timeout: Duration,
        on_progress: impl FnMut(u64, u64),
    ) -> Result<CaptureReport, CaptureError> {
        self.snapshot_until(path, Instant::now(), Deadline::after(timeout), on_progress)
    }

    fn snapshot_until(
        &mut self,
        path: &Path,
        started: Instant,
        deadline: Deadline,
        mut on_progress: impl FnMut(u64, u64),
    ) -> Result<CaptureReport, CaptureError> {
        // The file first: a bad path fails before the target pays for a snapshot.
        let mut file = AtomicFile::create(path)?;
        self.call_until("HeapProfiler.enable", json!({}), deadline)?;
        self.call_until("HeapProfiler.collectGarbage", json!({}), deadline)?;
        let method = "HeapProfiler.takeHeapSnapshot";
        let id = self.send(method, json!({"reportProgress": true}))?;
        let mut progress = (0u64, 0u64);
        let mut chunks = 0u64;
        let mut last_byte = None;
        let received = |file: &AtomicFile, chunks: u64, progress: (u64, u64)| {
            format!(
                "received {} bytes in {chunks} chunks; V8 reported {} of {} objects",
                file.bytes, progress.0, progress.1
            )
        };
        loop {
            let text = match self.ws.recv_text() {
                Ok(t) => t,
                Err(e) => {
                    let e = e.with_timeout_detail(|| {
                        format!(
                            "{}; V8 finishes the snapshot anyway (it cannot be cancelled), \
                             then drops it",
                            received(&file, chunks, progress)
                        )
                    });
                    return Err(match e {
                        CaptureError::Closed { what, detail } => CaptureError::Closed {
                            what,
                            detail: format!(
                                "{detail} before the heap snapshot was complete (did the process \
                                 exit or crash? {})",
                                received(&file, chunks, progress)
                            ),
                        },
                        other => other,
                    });
                }
            };
            let mut message = self.parse(&text)?;
            if message.get("id").and_then(Value::as_u64) == Some(id) {
                response(method, &mut message)?;
                break;
            }
            match message.get("method").and_then(Value::as_str) {
                Some("HeapProfiler.addHeapSnapshotChunk") => {
                    let Some(chunk) = message.pointer("/params/chunk").and_then(Value::as_str)
                    else {
                        continue;
                    };
                    file.write_all(chunk.as_bytes())?;
                    chunks += 1;
                    if let Some(b) = chunk.bytes().rev().find(|b| !b.is_ascii_whitespace()) {
                        last_byte = Some(b);
                    }
                }
                Some("HeapProfiler.reportHeapSnapshotProgress") => {
                    let num = |k: &str| {
                        message
                            .pointer(&format!("/params/{k}"))
                            .and_then(Value::as_u64)
                            .unwrap_or(0)
                    };
                    progress = (num("done"), num("total"));
                    on_progress(progress.0, progress.1);
                }
                _ => {}
            }
        }
        // V8 sends every chunk before the command's response; check the document is whole.
        let complete = file.head.starts_with(b"{\"snapshot\":") && last_byte == Some(b'}');
        if !complete {
            return Err(CaptureError::BadOutput {
                path: file.path().to_path_buf(),
                detail: format!(
                    "the inspector's snapshot is not a complete heap snapshot (starts with {}, \
                     {}); nothing was saved",
                    super::quote_start(&file.head),
                    received(&file, chunks, progress)
                ),
            });
        }
        // Best effort: the session is going away anyway.
        let _ = self.call_until("HeapProfiler.disable", json!({}), deadline);
        let bytes = file.commit()?;
        Ok(CaptureReport {
            path: path.to_path_buf(),
            bytes,
            duration: started.elapsed(),
        })
    }

    /// Ends the session (a WebSocket close); the process's inspector keeps listening.
    pub fn close(self) {
        self.ws.close();
    }
}

fn in_call(e: CaptureError, method: &str) -> CaptureError {
    match e {
        CaptureError::Timeout {
            what,
            timeout,
            detail,
        } => CaptureError::Timeout {
            what: format!("{what}: {method}"),
            timeout,
            detail,
        },
        other => other,
    }
}

fn response(method: &str, message: &mut Value) -> Result<Value, CaptureError> {
    if let Some(error) = message.get("error") {
        let text = error
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| error.to_string(), str::to_string);
        return Err(CaptureError::Cdp {
            method: method.to_string(),
            message: text,
        });
    }
    Ok(message
        .get_mut("result")
        .map(Value::take)
        .unwrap_or(Value::Null))
}

/// Connects to a Node inspector and saves a heap snapshot at `path` (see
/// [`NodeInspector::connect`] for `target`). `timeout` bounds everything, connecting included.
pub fn capture_node(
    target: &str,
    path: &Path,
    timeout: Duration,
    on_progress: impl FnMut(u64, u64),
) -> Result<CaptureReport, CaptureError> {
    capture_node_with(target, path, timeout, Network::LoopbackOnly, on_progress)
}

/// [`capture_node`], to a remote host too if `network` allows.
pub fn capture_node_with(
    target: &str,
    path: &Path,
    timeout: Duration,
    network: Network,
    on_progress: impl FnMut(u64, u64),
) -> Result<CaptureReport, CaptureError> {
    let started = Instant::now();
    let deadline = Deadline::after(timeout);
    let mut inspector = NodeInspector::open(target, deadline, network)?;
    let report = inspector.snapshot_until(path, started, deadline, on_progress)?;
    inspector.close();
    Ok(report)
}

/// Opens the inspector of a running Node process by sending it `SIGUSR1` (Node then listens
/// on `127.0.0.1:9229`), waits for it, checks that the inspector there is `pid`'s, and returns
/// its `ws://` URL. If `pid`'s inspector is already open there, no signal is sent.
///
/// Refuses when the process has no `SIGUSR1` handler (not Node, or Node started with
/// `--disable-sigusr1`): the signal's default action would terminate it. Fails when another
/// process's inspector holds port 9229 (Node cannot open a second one there).
pub fn enable_inspector_by_signal(pid: u32, timeout: Duration) -> Result<String, CaptureError> {
    let deadline = Deadline::after(timeout);
    proc::require_alive(pid)?;
    let port = INSPECTOR_SIGNAL_PORT;
    let addr = format!("127.0.0.1:{port}");
    let quick = Deadline::after(deadline.left().min(Duration::from_secs(2)));
    match inspector_pid(&addr, quick) {
        Ok((url, owner)) if owner == pid => return Ok(url),
        Ok((_, other_pid)) => {
            return Err(CaptureError::InspectorPortTaken {
                port,
                pid,
                other_pid,
            })
        }
        Err(CaptureError::Connect { .. }) => {}
        Err(e) => return Err(e),
    }
    proc::require_handler(
        pid,
        Signal::SIGUSR1,
        "is it a Node process (started without --disable-sigusr1)?",
    )?;
    proc::send(pid, Signal::SIGUSR1)?;
    let waited = Instant::now();
    loop {
        match inspector_pid(&addr, deadline) {
            Ok((url, owner)) if owner == pid => return Ok(url),
            Ok((_, other_pid)) => {
                return Err(CaptureError::InspectorPortTaken {
                    port,
                    pid,
                    other_pid,
                })
            }
            Err(CaptureError::Connect { .. }) if deadline.left() > Duration::from_millis(30) => {
                if !proc::alive(pid) {
                    return Err(CaptureError::ProcessGone {
                        pid,
                        detail: " after SIGUSR1".into(),
                    });
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(CaptureError::Connect { .. }) => {
                return Err(CaptureError::Timeout {
                    what: format!("waiting for process {pid} to open its inspector on {addr}"),
                    timeout: deadline.total,
                    detail: format!(
                        "; nothing listened after SIGUSR1 for {:.1?} (if port {port} was taken \
                         by another program, Node printed 'Starting inspector on {addr} \
                         failed' on its stderr)",
                        waited.elapsed()
                    ),
                })
            }
            Err(e) => return Err(e),
        }
    }
}

/// The debugger URL at `addr` and the pid of the process behind it.
fn inspector_pid(addr: &str, deadline: Deadline) -> Result<(String, u32), CaptureError> {
    let url = discover(addr, deadline, Network::LoopbackOnly)?;
    let mut inspector = NodeInspector::open(&url, deadline, Network::LoopbackOnly)?;
    let pid = inspector.pid_until(deadline)?;
    inspector.close();
    Ok((url, pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_banner() {
        let line =
            "Debugger listening on ws://127.0.0.1:40153/6f3c0a4e-8f57-4c5e-9d4e-0b6a1c2d3e4f";
        assert_eq!(
            parse_inspector_banner(line).as_deref(),
            Some("ws://127.0.0.1:40153/6f3c0a4e-8f57-4c5e-9d4e-0b6a1c2d3e4f")
        );
        assert_eq!(
            parse_inspector_banner("Debugger listening on ws://[::1]:9229/abc\r\n").as_deref(),
            Some("ws://[::1]:9229/abc")
        );
        for other in [
            "For help, see: https://nodejs.org/en/docs/inspector",
            "Debugger listening on ",
            "Debugger listening on ws://127.0.0.1/abc",
            "Debugger listening on ws://127.0.0.1:9229",
            "Debugger attached.",
        ] {
            assert_eq!(parse_inspector_banner(other), None, "{other}");
        }
    }

    #[test]
    fn remote_targets_are_refused_without_asking() {
        let err = NodeInspector::connect("ws://192.0.2.7:9229/x", Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(matches!(err, CaptureError::NotLoopback { .. }), "{err}");
        let err = discover_inspector(
            "example.com:9229",
            Duration::from_secs(1),
            Network::LoopbackOnly,
        )
        .unwrap_err();
        assert!(matches!(err, CaptureError::NotLoopback { .. }), "{err}");
    }
}
