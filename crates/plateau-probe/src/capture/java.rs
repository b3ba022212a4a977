//! An HPROF heap dump of a running HotSpot JVM through `jcmd PID GC.heap_dump`.
//!
//! Uncompressed on purpose (`-gz` is not passed, though JDK 17 has it): the JVM writes the dump
//! inside a safepoint, so compressing there lengthens the pause every Java thread sits in, and
//! plateau reads plain HPROF fastest. Compress the file afterwards if it is to be kept.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{proc, publish, tmp_path, CaptureError, CaptureReport};

/// `jcmd` for the JVM `pid`: from the target's own JDK (`/proc/PID/exe` is `<jdk>/bin/java`),
/// else `$JAVA_HOME/bin/jcmd`, else the first on `PATH`.
pub fn find_jcmd(pid: u32) -> Result<PathBuf, CaptureError> {
    find_jcmd_in(
        fs::read_link(format!("/proc/{pid}/exe")).ok(),
        env::var_os("JAVA_HOME"),
        env::var_os("PATH"),
    )
}

fn find_jcmd_in(
    exe: Option<PathBuf>,
    java_home: Option<OsString>,
    path: Option<OsString>,
) -> Result<PathBuf, CaptureError> {
    let mut candidates = Vec::new();
    if let Some(exe) = exe {
        // A JDK upgraded under a running JVM: the link ends in " (deleted)".
        let exe = exe
            .to_str()
            .and_then(|s| s.strip_suffix(" (deleted)"))
            .map_or(exe.clone(), PathBuf::from);
        if let Some(bin) = exe.parent() {
            candidates.push(bin.join("jcmd"));
            // JDK 8 runs <jdk>/jre/bin/java; jcmd is in <jdk>/bin.
            if let Some(jre) = bin.parent().filter(|p| p.ends_with("jre")) {
                if let Some(jdk) = jre.parent() {
                    candidates.push(jdk.join("bin").join("jcmd"));
                }
            }
        }
    }
    if let Some(home) = java_home.filter(|h| !h.is_empty()) {
        candidates.push(PathBuf::from(home).join("bin").join("jcmd"));
    }
    let on_path: Vec<PathBuf> = path
        .map(|p| env::split_paths(&p).map(|d| d.join("jcmd")).collect())
        .unwrap_or_default();
    let mut tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    tried.push("jcmd on PATH".into());
    candidates
        .into_iter()
        .chain(on_path)
        .find(|c| is_executable(c))
        .ok_or(CaptureError::JcmdMissing {
            tried: tried.join(", "),
        })
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Dumps the live objects of JVM `pid` into `path` (`jcmd PID GC.heap_dump -all=false`, which
/// runs a full GC first), atomically: the JVM writes `path.tmp`, plateau fsyncs it and renames
/// it. `timeout` bounds jcmd (killed when it expires).
///
/// Refused up front: a process that is not a HotSpot JVM or does not handle `SIGQUIT` (the
/// attach mechanism sends it, and it would terminate such a process), one of another user
/// (attach only accepts its own), one in another mount namespace (the JVM writes the file in
/// its own filesystem view).
pub fn capture_java(
    pid: u32,
    path: &Path,
    timeout: Duration,
) -> Result<CaptureReport, CaptureError> {
    let started = Instant::now();
    proc::require_alive(pid)?;
    check_attachable(pid)?;
    // The JVM resolves a relative name against its own working directory.
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        env::current_dir()
            .map_err(|e| CaptureError::Write {
                path: path.to_path_buf(),
                source: e,
            })?
            .join(path)
    };
    let write_err = |source| CaptureError::Write {
        path: path.clone(),
        source,
    };
    match path.parent() {
        Some(dir) if dir.is_dir() => {}
        _ => {
            return Err(write_err(io::Error::new(
                io::ErrorKind::NotFound,
                "the directory does not exist",
            )))
        }
    }
    let tmp = tmp_path(&path);
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(write_err(e)),
    }
    let filename = dcmd_quote(&tmp)?;
    let jcmd = find_jcmd(pid)?;
    let mut child = Command::new(&jcmd)
        .arg(pid.to_string())
        .arg("GC.heap_dump")
        .arg("-all=false")
        .arg(filename)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CaptureError::JcmdMissing {
                tried: jcmd.display().to_string(),
            },
            _ => CaptureError::Io {
                what: format!("cannot run {}", jcmd.display()),
                source: e,
            },
        })?;
    let collect = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut s) = stream {
                let _ = s.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = collect(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let stderr = collect(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let timeout_at = started + timeout.min(Duration::from_secs(365 * 86_400));
    let cleanup = || {
        let _ = fs::remove_file(&tmp);
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < timeout_at => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                cleanup();
                return Err(CaptureError::Timeout {
                    what: format!("jcmd {pid} GC.heap_dump"),
                    timeout,
                    detail: format!(
                        "; jcmd was killed, but the JVM may still be writing {} (it is removed \
                         now; one finished later would be left there)",
                        tmp.display()
                    ),
                });
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                cleanup();
                return Err(CaptureError::Io {
                    what: "waiting for jcmd".into(),
                    source: e,
                });
            }
        }
    };
    let output = format!(
        "{}{}",
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default()
    );
    // jcmd exits 0 even when the dump failed ("Unable to create ...: File exists").
    if status.success() && output.contains("Heap dump file created") && tmp.is_file() {
        let result = check_hprof(&tmp, &path).and_then(|()| publish(&tmp, &path));
        if let Err(e) = result {
            cleanup();
            return Err(e);
        }
        let bytes = fs::metadata(&path).map_err(write_err)?.len();
        return Ok(CaptureReport {
            path,
            bytes,
            duration: started.elapsed(),
        });
    }
    cleanup();
    Err(jcmd_failure(pid, &output))
}

/// The file name as one diagnostic-command argument. The JVM splits the command line at blanks
/// and reads `a=b` as an option (`/tmp/u=v.hprof` unquoted dumps to `/tmp/u`), so it is always
/// double-quoted; a name with a double quote cannot be passed.
fn dcmd_quote(path: &Path) -> Result<String, CaptureError> {
    let invalid = |reason: &str| CaptureError::InvalidTarget {
        target: path.display().to_string(),
        reason: reason.to_string(),
    };
    let text = path
        .to_str()
        .ok_or_else(|| invalid("jcmd needs a UTF-8 file name"))?;
    if text.contains('"') || text.chars().any(char::is_control) {
        return Err(invalid(
            "jcmd cannot pass a file name with a double quote or a control character",
        ));
    }
    Ok(format!("\"{text}\""))
}

fn check_attachable(pid: u32) -> Result<(), CaptureError> {
    let ours = proc::euid(None)?;
    let theirs = proc::euid(Some(pid))?;
    if ours != 0 && ours != theirs {
        return Err(CaptureError::Permission {
            pid,
            detail: format!(
                "it runs as uid {theirs} and plateau as uid {ours}; a JVM only lets its own \
                 user attach: run plateau as that user (e.g. sudo -u '#{theirs}' ...)"
            ),
        });
    }
    let ns = |p: &str| fs::read_link(format!("/proc/{p}/ns/mnt")).ok();
    if let (Some(mine), Some(its)) = (ns("self"), ns(&pid.to_string())) {
        if mine != its {
            return Err(CaptureError::InvalidTarget {
                target: format!("process {pid}"),
                reason: "it runs in another mount namespace (a container): the JVM writes the \
                         dump into its own filesystem, so run jcmd inside the container"
                    .into(),
            });
        }
    }
    if let Ok(maps) = fs::read_to_string(format!("/proc/{pid}/maps")) {
        if !maps.contains("/libjvm.so") {
            return Err(CaptureError::InvalidTarget {
                target: format!("process {pid}"),
                reason: "not a HotSpot JVM (no libjvm.so mapped); jcmd would send it SIGQUIT"
                    .into(),
            });
        }
    }
    proc::require_handler(
        pid,
        Signal::SIGQUIT,
        "jcmd attaches with SIGQUIT; a JVM run with -Xrs cannot be attached to",
    )
}

fn check_hprof(tmp: &Path, path: &Path) -> Result<(), CaptureError> {
    let mut head = [0u8; 18];
    let read = fs::File::open(tmp).and_then(|mut f| f.read_exact(&mut head));
    match read {
        Ok(()) if head.starts_with(b"JAVA PROFILE 1.0.") => Ok(()),
        Ok(()) => Err(CaptureError::BadOutput {
            path: path.to_path_buf(),
            detail: format!(
                "the JVM wrote something that is not HPROF (starts with {}); nothing was saved",
                super::quote_start(&head)
            ),
        }),
        Err(e) => Err(CaptureError::BadOutput {
            path: path.to_path_buf(),
            detail: format!("the JVM's dump cannot be read back ({e}); nothing was saved"),
        }),
    }
}

/// What a failed jcmd said, as the error it means.
fn jcmd_failure(pid: u32, output: &str) -> CaptureError {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != format!("{pid}:") && !l.starts_with("at "))
        .take(8)
        .collect();
    let said = if lines.is_empty() {
        "jcmd printed nothing".to_string()
    } else {
        lines.join(" / ")
    };
    if !proc::alive(pid) || output.contains("No such process") {
        return CaptureError::ProcessGone {
            pid,
            detail: format!(" (jcmd: {said})"),
        };
    }
    if output.contains("AttachNotSupportedException")
        || output.contains("Unable to open socket file")
        || output.contains("Operation not permitted")
    {
        return CaptureError::Permission {
            pid,
            detail: format!(
                "jcmd could not attach (the JVM may run as another user, in another container, \
                 or with -XX:+DisableAttachMechanism): {said}"
            ),
        };
    }
    CaptureError::Jcmd { pid, output: said }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_jcmd_says_to_install_a_jdk() {
        let err = find_jcmd_in(
            Some(PathBuf::from("/nonexistent/jre/bin/java")),
            Some("/nonexistent-home".into()),
            Some("/nonexistent-a:/nonexistent-b".into()),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/jre/bin/jcmd"), "{text}");
        assert!(text.contains("/nonexistent/bin/jcmd"), "{text}");
        assert!(text.contains("/nonexistent-home/bin/jcmd"), "{text}");
        assert!(text.contains("JDK, not a JRE"), "{text}");
    }

    #[test]
    fn the_targets_own_jdk_comes_first() {
        let dir = std::env::temp_dir().join(format!("plateau-jcmd-unit-{}", std::process::id()));
        let bin = dir.join("jdk/bin");
        fs::create_dir_all(&bin).unwrap();
        let jcmd = bin.join("jcmd");
        fs::write(&jcmd, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&jcmd, fs::Permissions::from_mode(0o755)).unwrap();
        let found = find_jcmd_in(
            Some(bin.join("java (deleted)")),
            None,
            Some("/usr/bin".into()),
        )
        .unwrap();
        assert_eq!(found, jcmd);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn file_names_are_quoted_for_the_jvm() {
        assert_eq!(
            dcmd_quote(Path::new("/tmp/a b/u=v.hprof.tmp")).unwrap(),
            "\"/tmp/a b/u=v.hprof.tmp\""
        );
        assert!(dcmd_quote(Path::new("/tmp/a\"b")).is_err());
        assert!(dcmd_quote(Path::new("/tmp/a\nb")).is_err());
    }

    #[test]
    fn jcmd_output_becomes_a_clear_error() {
        let me = std::process::id();
        let err = jcmd_failure(
            me,
            &format!("{me}:\nDumping heap to /x ...\nUnable to create /x: File exists\n"),
        );
        let text = err.to_string();
        assert!(matches!(err, CaptureError::Jcmd { .. }), "{text}");
        assert!(text.contains("Unable to create /x: File exists"), "{text}");
        let err = jcmd_failure(
            me,
            "com.sun.tools.attach.AttachNotSupportedException: Unable to open socket file",
        );
        assert!(matches!(err, CaptureError::Permission { .. }), "{err}");
    }
}
