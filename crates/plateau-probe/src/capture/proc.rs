//! What a capture needs to know about its target process: alive, same user, how it handles a
//! signal; and sending that signal.

use std::fs;
use std::io;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::CaptureError;

pub(super) fn alive(pid: u32) -> bool {
    crate::procfs::pid_alive(Path::new("/proc"), pid)
}

pub(super) fn require_alive(pid: u32) -> Result<(), CaptureError> {
    if alive(pid) {
        Ok(())
    } else {
        Err(CaptureError::ProcessGone {
            pid,
            detail: String::new(),
        })
    }
}

/// How a process treats one signal, from `SigBlk`/`SigIgn`/`SigCgt` of `/proc/PID/status`
/// (`SigBlk` is the main thread's mask).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Disposition {
    pub caught: bool,
    pub ignored: bool,
    pub blocked: bool,
}

pub(super) fn disposition(pid: u32, signal: Signal) -> Result<Disposition, CaptureError> {
    let text = read_status(pid)?;
    parse_disposition(&text, signal as i32).ok_or_else(|| CaptureError::Protocol {
        what: format!("/proc/{pid}/status"),
        detail: "no SigBlk/SigIgn/SigCgt lines".into(),
    })
}

fn parse_disposition(status: &str, signum: i32) -> Option<Disposition> {
    let bit = |key: &str| -> Option<bool> {
        let line = status.lines().find_map(|l| l.strip_prefix(key))?;
        let mask = u64::from_str_radix(line.trim(), 16).ok()?;
        Some(mask >> (signum - 1) & 1 == 1)
    };
    Some(Disposition {
        caught: bit("SigCgt:")?,
        ignored: bit("SigIgn:")?,
        blocked: bit("SigBlk:")?,
    })
}

fn read_status(pid: u32) -> Result<String, CaptureError> {
    fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| gone_or_io(pid, e, "status"))
}

fn gone_or_io(pid: u32, e: io::Error, file: &str) -> CaptureError {
    match e.kind() {
        io::ErrorKind::NotFound => CaptureError::ProcessGone {
            pid,
            detail: String::new(),
        },
        io::ErrorKind::PermissionDenied => CaptureError::Permission {
            pid,
            detail: format!(
                "cannot read /proc/{pid}/{file}: it belongs to another user; run plateau as \
                 that user"
            ),
        },
        _ => CaptureError::Io {
            what: format!("/proc/{pid}/{file}"),
            source: e,
        },
    }
}

/// The effective uid of `pid` (`None` for our own when /proc is unreadable).
pub(super) fn euid(pid: Option<u32>) -> Result<u32, CaptureError> {
    let text = match pid {
        Some(pid) => read_status(pid)?,
        None => fs::read_to_string("/proc/self/status").map_err(|e| CaptureError::Io {
            what: "/proc/self/status".into(),
            source: e,
        })?,
    };
    text.lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse().ok())
        .ok_or_else(|| CaptureError::Protocol {
            what: "/proc/PID/status".into(),
            detail: "no Uid line".into(),
        })
}

/// The target's environment at exec time; `Ok(None)` if it is not readable (another user).
pub(super) fn environ(pid: u32) -> Result<Option<Vec<(String, String)>>, CaptureError> {
    match fs::read(format!("/proc/{pid}/environ")) {
        Ok(bytes) => Ok(Some(
            bytes
                .split(|&b| b == 0)
                .filter_map(|kv| {
                    let kv = String::from_utf8_lossy(kv);
                    let (k, v) = kv.split_once('=')?;
                    Some((k.to_string(), v.to_string()))
                })
                .collect(),
        )),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(None),
        Err(e) => Err(gone_or_io(pid, e, "environ")),
    }
}

pub(super) fn send(pid: u32, signal: Signal) -> Result<(), CaptureError> {
    let raw = i32::try_from(pid).map_err(|_| CaptureError::ProcessGone {
        pid,
        detail: String::new(),
    })?;
    if raw <= 0 {
        // kill(0) and kill(-1) signal groups, never one process.
        return Err(CaptureError::InvalidTarget {
            target: pid.to_string(),
            reason: "not a process id".into(),
        });
    }
    kill(Pid::from_raw(raw), signal).map_err(|e| match e {
        Errno::ESRCH => CaptureError::ProcessGone {
            pid,
            detail: String::new(),
        },
        Errno::EPERM => CaptureError::Permission {
            pid,
            detail: format!(
                "cannot send {} to it: it belongs to another user; run plateau as that user",
                signal.as_str()
            ),
        },
        source => CaptureError::Signal {
            pid,
            signal: signal.as_str(),
            source,
        },
    })
}

/// Refuses to signal a process that would not run a handler: ignored signals do nothing, and
/// SIGUSR1/SIGUSR2 terminate a process that has no handler.
pub(super) fn require_handler(pid: u32, signal: Signal, whose: &str) -> Result<(), CaptureError> {
    let d = disposition(pid, signal)?;
    if d.caught {
        return Ok(());
    }
    let name = signal.as_str();
    let detail = if d.ignored {
        format!("it ignores {name}, so it would not take the capture; {whose}")
    } else {
        format!("it has no {name} handler, and {name} would terminate it; not sending it; {whose}")
    };
    Err(CaptureError::SignalNotHandled { pid, detail })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_signal_masks() {
        let status = "Name:\tpython3\nSigQ:\t0/1\nSigPnd:\t0000000000000000\n\
                      SigBlk:\t0000000000000800\nSigIgn:\t0000000001001000\n\
                      SigCgt:\t0000000180000a02\n";
        // SIGUSR2 = 12 -> bit 11 (0x800): caught and blocked.
        let usr2 = parse_disposition(status, 12).unwrap();
        assert_eq!(
            usr2,
            Disposition {
                caught: true,
                ignored: false,
                blocked: true
            }
        );
        // SIGPIPE = 13 -> bit 12 (0x1000): ignored.
        let pipe = parse_disposition(status, 13).unwrap();
        assert!(pipe.ignored && !pipe.caught);
        // SIGUSR1 = 10 -> bit 9 (0x200): caught.
        assert!(parse_disposition(status, 10).unwrap().caught);
        assert!(parse_disposition("Name: x\n", 10).is_none());
    }

    #[test]
    fn own_process_is_readable() {
        let me = std::process::id();
        assert!(alive(me));
        assert_eq!(euid(Some(me)).unwrap(), euid(None).unwrap());
        assert!(environ(me)
            .unwrap()
            .unwrap()
            .iter()
            .any(|(k, _)| k == "PATH"));
    }
}
