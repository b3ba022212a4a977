//! Heap capture from a running service without changing its code: a V8 heap snapshot through
//! Node's inspector, an HPROF dump through `jcmd`, a `tracemalloc` snapshot through a signal
//! handler plateau installs with a `sitecustomize.py`, and a pprof heap profile over HTTP.
//!
//! Every capture writes its file as `<path>.tmp`, fsyncs it, and renames it to `<path>`: a file
//! under the final name is always complete. A failed or timed-out capture leaves nothing behind
//! (the `.tmp` is removed). Files are created mode `0600`.
//!
//! # What each capture does to the target
//!
//! * **Node** ([`capture_node`]): `HeapProfiler.collectGarbage` and `takeHeapSnapshot` run on
//!   the target's main thread. Both are full, stop-the-world garbage collections, and the
//!   snapshot walks and serialises the whole heap while JavaScript is paused: roughly a second
//!   per few hundred thousand objects, during which the service answers nothing. The snapshot
//!   is 60-100 bytes per object on the wire (a 100 MB heap gives a file of a few hundred MB)
//!   and V8 needs extra memory while building it (up to the size of the heap again on large
//!   heaps; a process near its memory limit can be killed by the capture). If plateau gives up
//!   (timeout) V8 still finishes the snapshot; it is just not saved.
//!   [`enable_inspector_by_signal`] sends `SIGUSR1`: Node then listens on `127.0.0.1:9229` until
//!   it exits, and anyone on the machine able to reach that port can run code in the process.
//!   Prefer starting the service with `--inspect=127.0.0.1:0` when plateau starts it.
//! * **Java** ([`capture_java`]): `jcmd PID GC.heap_dump -all=false` (live objects only) makes
//!   the JVM run a full GC and then write the dump from inside a safepoint: every Java thread is
//!   stopped for the whole dump, about a second per GB of heap on a fast disk. The file is
//!   about the size of the live heap (plus ~10%). It is written by the JVM itself, so the path
//!   must be valid in the JVM's filesystem view and writable by its user. Killing `jcmd` on
//!   timeout does not stop the JVM writing the dump; plateau removes the unfinished file.
//! * **Python** ([`python_capture_env`], [`capture_python`]): `tracemalloc` is started when the
//!   interpreter starts (it must be: only allocations made while tracing are seen). It costs
//!   memory (roughly the size of the traced heap again, more with deeper tracebacks) and CPU on
//!   every allocation (often 2-4x slower allocation-heavy code). The snapshot is taken by a
//!   signal handler, and Python runs signal handlers **on the main thread between bytecodes**:
//!   a main thread blocked in C code (a long native call, a blocking wait that retries on
//!   `EINTR`) delays it, and [`capture_python`] reports a timeout that says so. Taking the
//!   snapshot pauses the main thread while every trace is copied and pickled; the file is
//!   roughly 20-50 bytes per distinct traceback plus its frames.
//! * **pprof** ([`capture_pprof`]): one HTTP GET; `?gc=1` makes Go run a GC first. Go's heap
//!   profile is sampled (every 512 KiB allocated) and costs the service almost nothing; files
//!   are small (KB to a few MB).
//!
//! # Safety
//!
//! Heap dumps hold whatever the heap holds: passwords, tokens, personal data. Files are
//! written `0600` (only the owner reads them; the JVM creates its dump `0600` too) and plateau
//! only talks to loopback addresses (`127.0.0.0/8`, `::1`, `localhost`, never resolved through
//! DNS) unless the caller passes [`Network::AllowRemote`]: the inspector protocol gives full
//! control of a Node process and is unauthenticated, and a heap profile reveals code structure.

mod http;
mod java;
mod node;
mod pprof;
mod proc;
mod python;
mod ws;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use java::{capture_java, find_jcmd};
pub use node::{
    capture_node, capture_node_with, discover_inspector, enable_inspector_by_signal,
    parse_inspector_banner, NodeInspector, INSPECTOR_SIGNAL_PORT,
};
pub use pprof::{capture_pprof, capture_pprof_with};
pub use python::{
    capture_python, next_python_snapshot, python_capture_env, python_snapshot_path,
    DEFAULT_TRACEMALLOC_FRAMES, DEFAULT_TRACEMALLOC_SIGNAL, SITECUSTOMIZE_PY, TRACEMALLOC_DIR_ENV,
    TRACEMALLOC_FRAMES_ENV, TRACEMALLOC_SIGNAL_ENV,
};

/// Which hosts a capture may talk to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Network {
    /// `127.0.0.0/8`, `::1` and `localhost` only (the default).
    #[default]
    LoopbackOnly,
    /// Any host. The Node inspector is unauthenticated and heap dumps hold secrets: only for a
    /// network the caller trusts (an SSH tunnel's far end, a pod network).
    AllowRemote,
}

/// A finished capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureReport {
    /// The complete file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// From the start of the capture (connecting included) to the rename.
    pub duration: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{target:?}: {reason}")]
    InvalidTarget { target: String, reason: String },

    #[error(
        "refusing to connect to {host}: not a loopback address (heap dumps hold secrets, and \
         the Node inspector gives full control of the process); allow remote hosts explicitly \
         to go ahead"
    )]
    NotLoopback { host: String },

    #[error("cannot connect to {what} at {addr}: {source}{hint}")]
    Connect {
        what: &'static str,
        addr: String,
        source: io::Error,
        /// Starts with "; " when present.
        hint: &'static str,
    },

    #[error("{what}: not finished within {timeout:?}{detail}")]
    Timeout {
        what: String,
        timeout: Duration,
        /// Starts with "; " when present.
        detail: String,
    },

    #[error("{url}: HTTP status {status} {reason}{body}")]
    HttpStatus {
        url: String,
        status: u16,
        reason: String,
        /// The start of the body, quoted, after "; the response starts with ".
        body: String,
    },

    #[error("{what}: {detail}")]
    Protocol { what: String, detail: String },

    #[error("{what}: the connection closed {detail}")]
    Closed { what: String, detail: String },

    #[error("the Node inspector answered {method} with an error: {message}")]
    Cdp { method: String, message: String },

    #[error(
        "the Node inspector at {url} lists no debuggable target (is another debugger attached?)"
    )]
    NoInspectorTarget { url: String },

    #[error(
        "port {port} already has a Node inspector, of process {other_pid} (not {pid}); a \
         signalled process can only listen there, so stop that inspector first"
    )]
    InspectorPortTaken { port: u16, pid: u32, other_pid: u32 },

    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },

    /// Writing the capture failed (a full disk, a missing directory, no permission). Nothing
    /// was left under `path`.
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },

    #[error(
        "{url}: not a pprof profile (one is gzip-compressed, starting with bytes 1f 8b); the \
         response starts with {start}"
    )]
    NotPprof { url: String, start: String },

    #[error("process {pid} is gone (it exited, or its PID was reaped){detail}")]
    ProcessGone { pid: u32, detail: String },

    #[error("process {pid}: permission denied: {detail}")]
    Permission { pid: u32, detail: String },

    #[error(
        "jcmd not found (looked for {tried}); jcmd ships with a JDK, not a JRE: install one \
         (e.g. `apt-get install openjdk-17-jdk-headless`, the same major version as the target) \
         or set JAVA_HOME to it"
    )]
    JcmdMissing { tried: String },

    #[error("jcmd {pid} GC.heap_dump failed: {output}")]
    Jcmd { pid: u32, output: String },

    /// The target would not run the capture handler: sending the signal would do nothing
    /// (ignored) or terminate it (default action).
    #[error("process {pid}: {detail}")]
    SignalNotHandled { pid: u32, detail: String },

    #[error("cannot send {signal} to process {pid}: {source}")]
    Signal {
        pid: u32,
        signal: &'static str,
        source: nix::Error,
    },

    #[error("{}: {detail}", path.display())]
    BadOutput { path: PathBuf, detail: String },
}

impl CaptureError {
    /// Adds `detail` to a timeout's message (other errors are returned as they are).
    fn with_timeout_detail(self, extra: impl FnOnce() -> String) -> Self {
        match self {
            CaptureError::Timeout {
                what,
                timeout,
                detail,
            } => CaptureError::Timeout {
                what,
                timeout,
                detail: format!("{detail}; {}", extra()),
            },
            other => other,
        }
    }
}

/// `<path>.tmp`, beside the final file (so the rename stays on one filesystem).
fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// A capture being written: `<path>.tmp`, mode 0600, renamed to `path` by [`Self::commit`] and
/// removed if dropped before.
struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
    bytes: u64,
    /// The first bytes written, for checks of what was captured.
    head: Vec<u8>,
}

const HEAD_BYTES: usize = 64;

impl AtomicFile {
    fn create(path: &Path) -> Result<Self, CaptureError> {
        let write_err = |source| CaptureError::Write {
            path: path.to_path_buf(),
            source,
        };
        if path.file_name().is_none() {
            return Err(write_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a file name",
            )));
        }
        let tmp = tmp_path(path);
        // A leftover from a crashed run: created again so that the mode is surely 0600.
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(write_err(e)),
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(write_err)?;
        Ok(Self::with_file(path.to_path_buf(), tmp, file))
    }

    fn with_file(path: PathBuf, tmp: PathBuf, file: File) -> Self {
        AtomicFile {
            path,
            tmp,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            bytes: 0,
            head: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<(), CaptureError> {
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(buf.len());
            self.head.extend_from_slice(&buf[..take]);
        }
        let file = self.file.as_mut().expect("written after commit");
        file.write_all(buf).map_err(|source| CaptureError::Write {
            path: self.path.clone(),
            source,
        })?;
        self.bytes += buf.len() as u64;
        Ok(())
    }

    /// Flushes, fsyncs, renames to the final name and fsyncs the directory. Returns the size.
    fn commit(mut self) -> Result<u64, CaptureError> {
        let write_err = |source| CaptureError::Write {
            path: self.path.clone(),
            source,
        };
        let file = self.file.take().expect("committed once");
        let file = file.into_inner().map_err(|e| write_err(e.into_error()))?;
        file.sync_all().map_err(write_err)?;
        drop(file);
        publish(&self.tmp, &self.path)?;
        Ok(self.bytes)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.file = None;
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Makes a finished `tmp` the file at `path`: mode 0600, data on disk, renamed, and the
/// rename on disk.
fn publish(tmp: &Path, path: &Path) -> Result<(), CaptureError> {
    let write_err = |source| CaptureError::Write {
        path: path.to_path_buf(),
        source,
    };
    fs::set_permissions(tmp, fs::Permissions::from_mode(0o600)).map_err(write_err)?;
    File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(write_err)?;
    fs::rename(tmp, path).map_err(write_err)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // Some filesystems refuse fsync on a directory; the data itself is already synced.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `"<text>" (3c 21 44 4f ...)`: the start of some bytes, readable whether text or binary.
fn quote_start(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing (an empty body)".to_string();
    }
    let text: String = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]).into();
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{text:?} ({} ...)", hex.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "plateau-capture-unit-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn atomic_file_appears_complete_with_mode_0600() {
        let dir = scratch("commit");
        let path = dir.join("heap.bin");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"hello ").unwrap();
        f.write_all(b"world").unwrap();
        assert!(!path.exists(), "nothing under the final name before commit");
        assert!(tmp_path(&path).exists());
        assert_eq!(f.head, b"hello world");
        assert_eq!(f.commit().unwrap(), 11);
        assert_eq!(fs::read(&path).unwrap(), b"hello world");
        assert!(!tmp_path(&path).exists());
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn dropped_atomic_file_leaves_nothing() {
        let dir = scratch("drop");
        let path = dir.join("heap.bin");
        fs::write(tmp_path(&path), b"stale leftover").unwrap();
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"partial").unwrap();
        drop(f);
        assert!(!path.exists());
        assert!(!tmp_path(&path).exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_full_disk_is_an_error_naming_the_path() {
        let Ok(full) = OpenOptions::new().write(true).open("/dev/full") else {
            eprintln!("skipped: no /dev/full");
            return;
        };
        let path = PathBuf::from("/captures/heap.heapsnapshot");
        let mut f = AtomicFile::with_file(path.clone(), tmp_path(&path), full);
        let big = vec![b'x'; 4 << 20];
        let err = f.write_all(&big).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/captures/heap.heapsnapshot"), "{text}");
        assert!(text.contains("No space left on device"), "{text}");
        assert!(matches!(err, CaptureError::Write { .. }));
    }

    #[test]
    fn missing_directory_is_a_write_error() {
        let err = AtomicFile::create(Path::new("/nonexistent-plateau-dir/heap.bin"))
            .err()
            .unwrap();
        assert!(err
            .to_string()
            .contains("/nonexistent-plateau-dir/heap.bin"));
    }

    #[test]
    fn quoting_shows_text_and_bytes() {
        let q = quote_start(b"<!DOCTYPE html><html>404 page not found");
        assert!(q.starts_with("\"<!DOCTYPE html>"), "{q}");
        assert!(q.contains("3c 21 44 4f"), "{q}");
        assert_eq!(quote_start(b""), "nothing (an empty body)");
    }
}
