//! One process's memory as `/proc/PID` reports it, and the crate's error type.
//!
//! Owns:
//! * [`ProbeError`]: the one error every sampler in this crate returns (`cgroup` reuses it),
//!   with messages that name the file and, for parse errors, the line at fault.
//! * [`ProcSampler`]: reads `/proc/PID/stat` (start time, to notice a reused PID),
//!   `/proc/PID/status` (VmRSS and its anon/file/shmem split, VmHWM, VmSwap) and, by policy,
//!   `/proc/PID/smaps_rollup` (PSS and swap), timing the latter because it walks every VMA.
//! * [`mem_total`] (`/proc/meminfo`, the last-resort limit) and [`pid_alive`].
//!
//! Everything takes the proc root as a path (`/proc` in real use) so tests can point at a
//! recorded tree. No `unsafe`, no libc: every fact comes from a file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Linux `ESRCH`: reading a `/proc/PID` file of a process that exited after the open.
/// std has no `ErrorKind` for it, and the number is part of the Linux ABI.
const ESRCH: i32 = 3;

/// Why a probe could not produce a reading.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The process exited (or is a zombie whose memory is already gone).
    #[error("process {pid} is gone (it exited, or its PID was reaped)")]
    Vanished { pid: u32 },

    /// The file exists but this user may not read it: `smaps_rollup` of another user's process
    /// needs ptrace-level access.
    #[error(
        "permission denied reading {}: it belongs to another user's process; run as that \
         user or as root, or watch its cgroup instead (--cgroup)",
        path.display()
    )]
    PermissionDenied { path: PathBuf },

    /// A file the probe needs is absent (a cgroup without the memory controller, a kernel
    /// without the file...).
    #[error("{} is missing (expected a readable file there)", path.display())]
    Missing { path: PathBuf },

    /// The file's text is not what the kernel writes. `line` is 1-based; 0 means the file as a
    /// whole (a required key never appeared).
    #[error("{}: expected {expected}", at(path, *line))]
    Parse {
        path: PathBuf,
        line: usize,
        expected: String,
    },

    /// Any other IO failure.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn at(path: &Path, line: usize) -> String {
    if line == 0 {
        path.display().to_string()
    } else {
        format!("{}:{line}", path.display())
    }
}

impl ProbeError {
    pub(crate) fn parse(path: &Path, line: usize, expected: impl Into<String>) -> Self {
        ProbeError::Parse {
            path: path.to_path_buf(),
            line,
            expected: expected.into(),
        }
    }

    /// Maps an IO error on `path` to what it means. For a file under `/proc/PID` (`pid` is
    /// `Some`), "not found" or `ESRCH` means the process went away; elsewhere "not found" is a
    /// missing file.
    pub(crate) fn from_io(path: &Path, pid: Option<u32>, err: io::Error) -> Self {
        let path = path.to_path_buf();
        match (err.kind(), pid) {
            (io::ErrorKind::PermissionDenied, _) => ProbeError::PermissionDenied { path },
            (io::ErrorKind::NotFound, Some(pid)) => ProbeError::Vanished { pid },
            (io::ErrorKind::NotFound, None) => ProbeError::Missing { path },
            (_, Some(pid)) if err.raw_os_error() == Some(ESRCH) => ProbeError::Vanished { pid },
            _ => ProbeError::Io { path, source: err },
        }
    }
}

/// Reads a whole small text file (proc and cgroup files are a few kB at most).
pub(crate) fn read_text(path: &Path, pid: Option<u32>) -> Result<String, ProbeError> {
    fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| ProbeError::from_io(path, pid, e))
}

/// One sample of a process's memory. Sizes are bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcReading {
    pub pid: u32,
    /// `/proc/PID/stat` field 22 (`starttime`, clock ticks after boot). It never changes for
    /// a process, so a different value under the same PID means the PID was reused (the
    /// process restarted or another took its number).
    pub start_ticks: u64,
    /// `VmRSS`.
    pub rss: u64,
    /// `RssAnon`, `RssFile`, `RssShmem` (Linux >= 4.5; `None` before).
    pub rss_anon: Option<u64>,
    pub rss_file: Option<u64>,
    pub rss_shmem: Option<u64>,
    /// `VmHWM`, the peak RSS.
    pub hwm: Option<u64>,
    /// `VmSwap`.
    pub swap: Option<u64>,
    /// `smaps_rollup`, when the policy read it this time.
    pub smaps: Option<SmapsRollup>,
}

/// The totals of `/proc/PID/smaps_rollup`, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmapsRollup {
    pub rss: u64,
    /// Proportional set size: shared pages divided among their sharers.
    pub pss: u64,
    pub anonymous: u64,
    pub swap: u64,
}

/// When to read `smaps_rollup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmapsPolicy {
    Never,
    Always,
    /// Read it while one read costs under 1% of `interval` (the sampling period);
    /// `smaps_rollup` walks every VMA under the mm lock and can take milliseconds on a big
    /// process, which would both skew the interval and slow the target.
    Auto {
        interval: Duration,
    },
}

/// Samples one process. Keeps what `Auto` needs to know: whether `smaps_rollup` is still
/// read, what the last read cost, and why it stopped.
#[derive(Debug, Clone)]
pub struct ProcSampler {
    proc_root: PathBuf,
    pid: u32,
    policy: SmapsPolicy,
    smaps_on: bool,
    /// Reads in a row that were over the `Auto` budget.
    over_budget: u32,
    last_smaps_cost: Option<Duration>,
    note: Option<String>,
}

/// Over-budget reads in a row before `Auto` gives up: one slow read can be a preemption,
/// two in a row is the VMA walk.
const AUTO_STRIKES: u32 = 2;

impl ProcSampler {
    /// A sampler for `pid` under `proc_root` (`/proc`), with `smaps_rollup` off.
    pub fn new(proc_root: impl Into<PathBuf>, pid: u32) -> Self {
        ProcSampler {
            proc_root: proc_root.into(),
            pid,
            policy: SmapsPolicy::Never,
            smaps_on: false,
            over_budget: 0,
            last_smaps_cost: None,
            note: None,
        }
    }

    pub fn with_smaps(mut self, policy: SmapsPolicy) -> Self {
        self.policy = policy;
        self.smaps_on = policy != SmapsPolicy::Never;
        self.over_budget = 0;
        self.note = None;
        self
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What the last `smaps_rollup` read took, if one was made.
    pub fn smaps_cost(&self) -> Option<Duration> {
        self.last_smaps_cost
    }

    /// Why `smaps_rollup` is no longer read, e.g. `smaps_rollup off: 3.1 ms per read > 1% of
    /// a 100 ms interval`; `None` while it is read (or was never asked for).
    pub fn smaps_note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    pub fn sample(&mut self) -> Result<ProcReading, ProbeError> {
        let dir = self.proc_root.join(self.pid.to_string());
        let start_ticks = self.read_start_ticks(&dir)?;
        let status = self.read_status(&dir)?;
        let smaps = if self.smaps_on {
            self.read_smaps(&dir)?
        } else {
            None
        };
        Ok(ProcReading {
            pid: self.pid,
            start_ticks,
            rss: status.rss,
            rss_anon: status.rss_anon,
            rss_file: status.rss_file,
            rss_shmem: status.rss_shmem,
            hwm: status.hwm,
            swap: status.swap,
            smaps,
        })
    }

    fn read_start_ticks(&self, dir: &Path) -> Result<u64, ProbeError> {
        let path = dir.join("stat");
        let text = read_pid_file(&path, self.pid, dir)?;
        let stat = parse_stat(&path, &text)?;
        if stat.state == 'Z' || stat.state == 'X' {
            return Err(ProbeError::Vanished { pid: self.pid });
        }
        Ok(stat.start_ticks)
    }

    fn read_status(&self, dir: &Path) -> Result<Status, ProbeError> {
        let path = dir.join("status");
        let text = read_pid_file(&path, self.pid, dir)?;
        parse_status(&path, &text, self.pid)
    }

    fn read_smaps(&mut self, dir: &Path) -> Result<Option<SmapsRollup>, ProbeError> {
        let path = dir.join("smaps_rollup");
        let started = Instant::now();
        let read = read_pid_file(&path, self.pid, dir);
        let cost = started.elapsed();
        let text = match read {
            Ok(text) => text,
            Err(ProbeError::Missing { .. }) => {
                // Added in Linux 4.14; older kernels only have the per-VMA `smaps`, far
                // too costly to sum on every sample.
                self.turn_off("smaps_rollup off: the kernel has no smaps_rollup (Linux < 4.14)");
                return Ok(None);
            }
            Err(ProbeError::PermissionDenied { path }) if self.is_auto() => {
                self.turn_off(&format!(
                    "smaps_rollup off: permission denied on {} (another user's process; \
                     run as that user or root for PSS)",
                    path.display()
                ));
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        self.last_smaps_cost = Some(cost);
        // A process that is exiting (or a kernel thread) has no mm: the file reads empty.
        let rollup = if text.trim().is_empty() {
            None
        } else {
            Some(parse_smaps_rollup(&path, &text)?)
        };
        if let SmapsPolicy::Auto { interval } = self.policy {
            let budget = interval / 100;
            if cost > budget {
                self.over_budget += 1;
                if self.over_budget >= AUTO_STRIKES {
                    self.turn_off(&format!(
                        "smaps_rollup off: {} per read > 1% of a {} interval",
                        fmt_ms(cost),
                        fmt_ms(interval)
                    ));
                }
            } else {
                self.over_budget = 0;
            }
        }
        Ok(rollup)
    }

    fn is_auto(&self) -> bool {
        matches!(self.policy, SmapsPolicy::Auto { .. })
    }

    fn turn_off(&mut self, why: &str) {
        self.smaps_on = false;
        self.note = Some(why.to_string());
    }
}

fn fmt_ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// Reads a file under `/proc/PID`. "Not found" means the process is gone when its directory
/// went too; with the directory still there the file itself is missing (an older kernel).
fn read_pid_file(path: &Path, pid: u32, dir: &Path) -> Result<String, ProbeError> {
    match read_text(path, Some(pid)) {
        Err(ProbeError::Vanished { .. }) if dir.is_dir() && !path.exists() => {
            Err(ProbeError::Missing {
                path: path.to_path_buf(),
            })
        }
        other => other,
    }
}

struct Stat {
    state: char,
    start_ticks: u64,
}

/// `/proc/PID/stat`: `pid (comm) state ppid ...`. `comm` is free text of up to 15 bytes
/// that may itself hold spaces and `)`, so the fields start after the LAST `)`.
fn parse_stat(path: &Path, text: &str) -> Result<Stat, ProbeError> {
    let close = text.rfind(')').ok_or_else(|| {
        ProbeError::parse(path, 1, "`PID (comm) state ...` with a `)` after comm")
    })?;
    let mut fields = text[close + 1..].split_ascii_whitespace();
    // Field 3 is the state; field 22 is starttime, i.e. the 20th field after `)`.
    let state = fields
        .next()
        .and_then(|s| s.chars().next())
        .ok_or_else(|| ProbeError::parse(path, 1, "a state letter (field 3) after comm"))?;
    let start = fields
        .nth(18)
        .ok_or_else(|| ProbeError::parse(path, 1, "at least 22 fields (starttime is field 22)"))?;
    let start_ticks = start.parse::<u64>().map_err(|_| {
        ProbeError::parse(
            path,
            1,
            format!("an unsigned integer starttime (field 22), found `{start}`"),
        )
    })?;
    Ok(Stat { state, start_ticks })
}

struct Status {
    rss: u64,
    rss_anon: Option<u64>,
    rss_file: Option<u64>,
    rss_shmem: Option<u64>,
    hwm: Option<u64>,
    swap: Option<u64>,
}

fn parse_status(path: &Path, text: &str, pid: u32) -> Result<Status, ProbeError> {
    let mut rss = None;
    let mut s = Status {
        rss: 0,
        rss_anon: None,
        rss_file: None,
        rss_shmem: None,
        hwm: None,
        swap: None,
    };
    let mut zombie = false;
    for (i, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "VmRSS" => &mut rss,
            "RssAnon" => &mut s.rss_anon,
            "RssFile" => &mut s.rss_file,
            "RssShmem" => &mut s.rss_shmem,
            "VmHWM" => &mut s.hwm,
            "VmSwap" => &mut s.swap,
            "State" => {
                zombie = matches!(value.trim_start().chars().next(), Some('Z' | 'X'));
                continue;
            }
            _ => continue,
        };
        *slot = Some(parse_kb(path, i + 1, key, value)?);
    }
    match rss {
        Some(rss) => {
            s.rss = rss;
            Ok(s)
        }
        // A zombie keeps its status file but has released its memory.
        None if zombie => Err(ProbeError::Vanished { pid }),
        None => Err(ProbeError::parse(
            path,
            0,
            "a `VmRSS:` line (kernel threads have none: they have no memory of their own)",
        )),
    }
}

/// `"   1696 kB"` -> bytes.
fn parse_kb(path: &Path, line: usize, key: &str, value: &str) -> Result<u64, ProbeError> {
    let mut parts = value.split_ascii_whitespace();
    let n = parts.next().and_then(|n| n.parse::<u64>().ok());
    let unit = parts.next();
    match (n, unit, parts.next()) {
        (Some(n), Some("kB"), None) => n.checked_mul(1024).ok_or_else(|| {
            ProbeError::parse(path, line, format!("a `{key}` size below 2^64 bytes"))
        }),
        _ => Err(ProbeError::parse(
            path,
            line,
            format!("`{key}: <unsigned integer> kB`"),
        )),
    }
}

/// `smaps_rollup`: a header line naming the range, then `Key:  N kB` lines.
fn parse_smaps_rollup(path: &Path, text: &str) -> Result<SmapsRollup, ProbeError> {
    let (mut rss, mut pss, mut anonymous, mut swap) = (None, None, None, None);
    for (i, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "Rss" => &mut rss,
            "Pss" => &mut pss,
            "Anonymous" => &mut anonymous,
            "Swap" => &mut swap,
            // The header line also holds `:` (in `00:00`), and other keys are not needed.
            _ => continue,
        };
        *slot = Some(parse_kb(path, i + 1, key, value)?);
    }
    let need = |v: Option<u64>, key: &str| {
        v.ok_or_else(|| ProbeError::parse(path, 0, format!("a `{key}:` line")))
    };
    Ok(SmapsRollup {
        rss: need(rss, "Rss")?,
        pss: need(pss, "Pss")?,
        anonymous: need(anonymous, "Anonymous")?,
        swap: need(swap, "Swap")?,
    })
}

/// `MemTotal` of `/proc/meminfo`, in bytes: the limit when no cgroup sets one.
pub fn mem_total(proc_root: &Path) -> Result<u64, ProbeError> {
    let path = proc_root.join("meminfo");
    let text = read_text(&path, None)?;
    for (i, line) in text.lines().enumerate() {
        if let Some(value) = line.strip_prefix("MemTotal:") {
            return parse_kb(&path, i + 1, "MemTotal", value);
        }
    }
    Err(ProbeError::parse(&path, 0, "a `MemTotal:` line"))
}

/// Whether `pid` is a live process: its stat file reads and it is not a zombie (whose memory
/// is gone even though the PID is still taken).
pub fn pid_alive(proc_root: &Path, pid: u32) -> bool {
    let path = proc_root.join(pid.to_string()).join("stat");
    match read_text(&path, Some(pid)) {
        Ok(text) => parse_stat(&path, &text).is_ok_and(|s| s.state != 'Z' && s.state != 'X'),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("/proc/42/status")
    }

    #[test]
    fn io_errors_map_to_what_they_mean() {
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(matches!(
            ProbeError::from_io(p(), Some(42), denied),
            ProbeError::PermissionDenied { path } if path == p()
        ));
        let gone = io::Error::from(io::ErrorKind::NotFound);
        assert!(matches!(
            ProbeError::from_io(p(), Some(42), gone),
            ProbeError::Vanished { pid: 42 }
        ));
        let missing = io::Error::from(io::ErrorKind::NotFound);
        assert!(matches!(
            ProbeError::from_io(p(), None, missing),
            ProbeError::Missing { path } if path == p()
        ));
        let esrch = io::Error::from_raw_os_error(ESRCH);
        assert!(matches!(
            ProbeError::from_io(p(), Some(42), esrch),
            ProbeError::Vanished { pid: 42 }
        ));
        let other = io::Error::from(io::ErrorKind::InvalidData);
        assert!(matches!(
            ProbeError::from_io(p(), Some(42), other),
            ProbeError::Io { .. }
        ));
    }

    #[test]
    fn permission_message_says_what_to_do() {
        let e = ProbeError::from_io(
            Path::new("/proc/1/smaps_rollup"),
            Some(1),
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        let msg = e.to_string();
        assert!(msg.contains("/proc/1/smaps_rollup"), "{msg}");
        assert!(msg.contains("as root") && msg.contains("--cgroup"), "{msg}");
    }

    // Recorded on this machine (Linux 6.18) from `cat /proc/self/smaps_rollup`.
    const ROLLUP: &str =
        "556875734000-7ffc25b4b000 ---p 00000000 00:00 0                          [rollup]
Rss:                1628 kB
Pss:                 304 kB
Pss_Dirty:           112 kB
Pss_Anon:            112 kB
Pss_File:            192 kB
Pss_Shmem:             0 kB
Shared_Clean:       1476 kB
Shared_Dirty:          0 kB
Private_Clean:        40 kB
Private_Dirty:       112 kB
Referenced:         1628 kB
Anonymous:           112 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
";

    #[test]
    fn smaps_rollup_totals() {
        let r = parse_smaps_rollup(Path::new("x"), ROLLUP).unwrap();
        assert_eq!(
            r,
            SmapsRollup {
                rss: 1628 * 1024,
                pss: 304 * 1024,
                anonymous: 112 * 1024,
                swap: 0
            }
        );
    }

    #[test]
    fn smaps_rollup_garbage_names_the_line() {
        let bad = ROLLUP.replace("Pss:                 304 kB", "Pss: lots");
        match parse_smaps_rollup(Path::new("x"), &bad) {
            Err(ProbeError::Parse { line: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stat_with_hostile_comm() {
        let text =
            "77 (a) (b) c) S 1 77 77 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 830663 3133440 380";
        let s = parse_stat(Path::new("x"), text).unwrap();
        assert_eq!((s.state, s.start_ticks), ('S', 830663));
    }

    #[test]
    fn truncated_stat_is_a_parse_error() {
        for text in [
            "",
            "77 (x",
            "77 (x) S 1 2 3",
            "77 (x) S 1 77 77 0 -1 4 1 0 0 0 0 0 0 0 20 0 1 0 -5",
        ] {
            assert!(
                matches!(
                    parse_stat(Path::new("x"), text),
                    Err(ProbeError::Parse { .. })
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn status_without_rss_split_and_overflow() {
        let old = "Name:\tx\nState:\tS (sleeping)\nVmHWM:\t  10 kB\nVmRSS:\t   8 kB\n";
        let s = parse_status(Path::new("x"), old, 1).unwrap();
        assert_eq!(
            (s.rss, s.hwm, s.rss_anon, s.swap),
            (8192, Some(10240), None, None)
        );

        let huge = "VmRSS:\t99999999999999999 kB\n";
        assert!(matches!(
            parse_status(Path::new("x"), huge, 1),
            Err(ProbeError::Parse { line: 1, .. })
        ));
        let zombie = "Name:\tx\nState:\tZ (zombie)\n";
        assert!(matches!(
            parse_status(Path::new("x"), zombie, 9),
            Err(ProbeError::Vanished { pid: 9 })
        ));
        let kthread = "Name:\tkworker\nState:\tI (idle)\n";
        assert!(matches!(
            parse_status(Path::new("x"), kthread, 9),
            Err(ProbeError::Parse { line: 0, .. })
        ));
    }

    #[test]
    fn auto_budget_turns_smaps_off_after_two_slow_reads() {
        // A zero interval makes every real read over budget.
        let mut s = ProcSampler::new("/proc", std::process::id()).with_smaps(SmapsPolicy::Auto {
            interval: Duration::ZERO,
        });
        assert!(s.sample().unwrap().smaps.is_some());
        assert!(s.smaps_note().is_none());
        assert!(s.sample().unwrap().smaps.is_some());
        let note = s.smaps_note().expect("turned off").to_string();
        assert!(
            note.starts_with("smaps_rollup off: ") && note.ends_with("> 1% of a 0.0 ms interval"),
            "{note}"
        );
        assert!(s.sample().unwrap().smaps.is_none());
    }
}
