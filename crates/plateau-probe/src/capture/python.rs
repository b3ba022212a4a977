//! A `tracemalloc` snapshot of a running Python process. plateau starts the process with a
//! `sitecustomize.py` of its own first on `PYTHONPATH` ([`python_capture_env`]): it starts
//! tracemalloc and installs a signal handler that dumps a snapshot. [`capture_python`] sends
//! the signal and waits for the file.
//!
//! Limits: `python -S`, `-I` or `-E` skip `sitecustomize`/`PYTHONPATH`; every Python process
//! started with this environment (children of the service too) traces and answers the signal;
//! a forking server's workers share the snapshot directory, so capture one pid at a time.

use std::ffi::OsString;
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{proc, CaptureError};

/// The helper itself (written as `sitecustomize.py` by [`python_capture_env`]).
pub const SITECUSTOMIZE_PY: &str = include_str!("sitecustomize.py");
/// Where the snapshots go (the helper directory).
pub const TRACEMALLOC_DIR_ENV: &str = "PLATEAU_TRACEMALLOC_DIR";
/// Traceback depth for `tracemalloc.start` (read by the child).
pub const TRACEMALLOC_FRAMES_ENV: &str = "PLATEAU_TRACEMALLOC_FRAMES";
pub const DEFAULT_TRACEMALLOC_FRAMES: u32 = 25;
/// The signal that dumps a snapshot, by name (`SIGUSR2` or `USR2`).
pub const TRACEMALLOC_SIGNAL_ENV: &str = "PLATEAU_TRACEMALLOC_SIGNAL";
pub const DEFAULT_TRACEMALLOC_SIGNAL: &str = "SIGUSR2";

/// Writes `sitecustomize.py` into `dir` (created `0700` if missing) and returns the variables
/// to add to the Python child's environment: `PYTHONPATH` with `dir` first (then the current
/// `PYTHONPATH`, whose own `sitecustomize` the helper still runs), `PLATEAU_TRACEMALLOC_DIR`,
/// and `PLATEAU_TRACEMALLOC_SIGNAL` (from this process's environment, default `SIGUSR2`).
/// `PLATEAU_TRACEMALLOC_FRAMES` is read by the child from the environment it inherits.
pub fn python_capture_env(dir: &Path) -> Result<Vec<(String, String)>, CaptureError> {
    let write_err = |path: &Path, source| CaptureError::Write {
        path: path.to_path_buf(),
        source,
    };
    match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(write_err(dir, e)),
    }
    // The child may run elsewhere: an absolute path.
    let dir = fs::canonicalize(dir).map_err(|e| write_err(dir, e))?;
    let dir_str = dir
        .to_str()
        .ok_or_else(|| CaptureError::InvalidTarget {
            target: dir.display().to_string(),
            reason: "the helper directory's path is not UTF-8".into(),
        })?
        .to_string();
    if dir_str.contains(':') {
        return Err(CaptureError::InvalidTarget {
            target: dir_str,
            reason: "a ':' in the helper directory's path cannot go into PYTHONPATH".into(),
        });
    }
    let script = dir.join("sitecustomize.py");
    let mut file = super::AtomicFile::create(&script)?;
    file.write_all(SITECUSTOMIZE_PY.as_bytes())?;
    file.commit()?;

    let signal = signal_from_env(std::env::var(TRACEMALLOC_SIGNAL_ENV).ok().as_deref())?;
    let pythonpath = match std::env::var_os("PYTHONPATH").map(OsString::into_string) {
        Some(Ok(old)) if !old.is_empty() => format!("{dir_str}:{old}"),
        Some(Err(_)) => {
            return Err(CaptureError::InvalidTarget {
                target: "PYTHONPATH".into(),
                reason: "the current PYTHONPATH is not UTF-8".into(),
            })
        }
        _ => dir_str.clone(),
    };
    Ok(vec![
        ("PYTHONPATH".to_string(), pythonpath),
        (TRACEMALLOC_DIR_ENV.to_string(), dir_str),
        (
            TRACEMALLOC_SIGNAL_ENV.to_string(),
            signal.as_str().to_string(),
        ),
    ])
}

/// `SIGUSR2`, `usr2`...; `None` means the default. Signals that cannot be caught, or that a
/// service needs for itself, are refused.
fn signal_from_env(value: Option<&str>) -> Result<Signal, CaptureError> {
    let raw = value.map(str::trim).filter(|v| !v.is_empty());
    let name = raw
        .unwrap_or(DEFAULT_TRACEMALLOC_SIGNAL)
        .to_ascii_uppercase();
    let name = if name.starts_with("SIG") {
        name
    } else {
        format!("SIG{name}")
    };
    let invalid = |reason: &str| CaptureError::InvalidTarget {
        target: format!("{TRACEMALLOC_SIGNAL_ENV}={}", raw.unwrap_or_default()),
        reason: reason.to_string(),
    };
    let signal = Signal::from_str(&name).map_err(|_| invalid("not a signal name"))?;
    match signal {
        Signal::SIGKILL | Signal::SIGSTOP => Err(invalid("this signal cannot be caught")),
        Signal::SIGINT | Signal::SIGTERM | Signal::SIGSEGV | Signal::SIGCHLD | Signal::SIGPIPE => {
            Err(invalid("the service needs this signal for itself"))
        }
        s => Ok(s),
    }
}

/// `dir/snapshot-<k>.tracemalloc`.
pub fn python_snapshot_path(dir: &Path, k: u32) -> PathBuf {
    dir.join(format!("snapshot-{k}.tracemalloc"))
}

/// The `k` the next snapshot in `dir` gets: one more than the highest there (the helper
/// numbers them the same way, so numbering goes on across restarts).
pub fn next_python_snapshot(dir: &Path) -> u32 {
    let highest = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let k = name
                .strip_prefix("snapshot-")?
                .strip_suffix(".tracemalloc")?;
            (!k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
                .then(|| k.parse::<u32>().ok())
                .flatten()
        })
        .max()
        .unwrap_or(0);
    highest + 1
}

/// Signals `pid` (started with [`python_capture_env`]`(dir)`) to dump snapshot `k` (pass
/// [`next_python_snapshot`]`(dir)`) and waits up to `timeout` for
/// `dir/snapshot-<k>.tracemalloc`, which appears complete (renamed from `.tmp`).
///
/// Refuses to signal a process that has no handler for it (the signal would terminate it) or
/// ignores it, and one whose environment names another directory. A timeout usually means the
/// main thread is blocked in C code (Python runs handlers there, between bytecodes) or blocks
/// the signal; the snapshot is then still written once the handler runs.
pub fn capture_python(
    pid: u32,
    dir: &Path,
    k: u32,
    timeout: Duration,
) -> Result<PathBuf, CaptureError> {
    let started = Instant::now();
    proc::require_alive(pid)?;
    let dir = fs::canonicalize(dir).map_err(|e| CaptureError::Io {
        what: format!("the snapshot directory {}", dir.display()),
        source: e,
    })?;
    let not_ours = |detail: String| CaptureError::SignalNotHandled { pid, detail };
    let env = proc::environ(pid)?.ok_or_else(|| CaptureError::Permission {
        pid,
        detail: format!(
            "cannot read /proc/{pid}/environ: it belongs to another user; run plateau as that \
             user"
        ),
    })?;
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let Some(its_dir) = var(TRACEMALLOC_DIR_ENV) else {
        return Err(not_ours(format!(
            "it was not started with plateau's tracemalloc helper ({TRACEMALLOC_DIR_ENV} is not \
             in its environment); start it with the variables of python_capture_env"
        )));
    };
    if fs::canonicalize(its_dir).ok().as_deref() != Some(dir.as_path()) {
        return Err(not_ours(format!(
            "its snapshots go to {its_dir}, not {}",
            dir.display()
        )));
    }
    let signal = signal_from_env(var(TRACEMALLOC_SIGNAL_ENV))?;
    let final_path = python_snapshot_path(&dir, k);
    if final_path.exists() {
        return Err(CaptureError::InvalidTarget {
            target: final_path.display().to_string(),
            reason: format!(
                "already exists; the next snapshot is number {}",
                next_python_snapshot(&dir)
            ),
        });
    }
    proc::require_handler(
        pid,
        signal,
        "is it Python started with plateau's tracemalloc helper (no -S, -I or -E)?",
    )?;
    proc::send(pid, signal)?;
    let timeout_at = started + timeout.min(Duration::from_secs(365 * 86_400));
    loop {
        if final_path.exists() {
            return Ok(final_path);
        }
        if !proc::alive(pid) {
            // It may have written the file just before exiting.
            if final_path.exists() {
                return Ok(final_path);
            }
            return Err(CaptureError::ProcessGone {
                pid,
                detail: format!(" before writing {}", final_path.display()),
            });
        }
        if Instant::now() >= timeout_at {
            let blocked = proc::disposition(pid, signal).is_ok_and(|d| d.blocked);
            let why = if blocked {
                format!(
                    "its main thread blocks {} (signal.pthread_sigmask), so the handler has not \
                     run",
                    signal.as_str()
                )
            } else {
                "Python runs signal handlers on the main thread between bytecodes, so a main \
                 thread blocked in C code (a long native call, a wait that retries on EINTR) \
                 delays the snapshot; a large heap also takes long to snapshot"
                    .to_string()
            };
            return Err(CaptureError::Timeout {
                what: format!(
                    "waiting for process {pid} to write {}",
                    final_path.display()
                ),
                timeout,
                detail: format!("; {why}. It will still be written once the handler runs."),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(signal_from_env(None).unwrap(), Signal::SIGUSR2);
        assert_eq!(signal_from_env(Some("")).unwrap(), Signal::SIGUSR2);
        assert_eq!(signal_from_env(Some("usr1")).unwrap(), Signal::SIGUSR1);
        assert_eq!(signal_from_env(Some("SIGPROF")).unwrap(), Signal::SIGPROF);
        for bad in ["SIGKILL", "TERM", "SIGNOPE", "12"] {
            assert!(signal_from_env(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbering_goes_on_from_the_highest() {
        let dir = std::env::temp_dir().join(format!("plateau-py-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(next_python_snapshot(&dir), 1);
        for name in [
            "snapshot-1.tracemalloc",
            "snapshot-7.tracemalloc",
            "snapshot-9.tracemalloc.tmp",
            "snapshot-x.tracemalloc",
            "other-12.tracemalloc",
        ] {
            fs::write(dir.join(name), b"").unwrap();
        }
        assert_eq!(next_python_snapshot(&dir), 8);
        assert_eq!(
            python_snapshot_path(&dir, 8),
            dir.join("snapshot-8.tracemalloc")
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
