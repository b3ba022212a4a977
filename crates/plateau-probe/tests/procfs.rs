//! `procfs` against the real `/proc` of this machine, and against a recorded `/proc/PID`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use plateau_probe::procfs::{mem_total, pid_alive, ProbeError, ProcSampler, SmapsPolicy};

const MIB: u64 = 1 << 20;

fn fixture_proc() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cgroup/v1-host/proc")
}

/// Kills and reaps the child however the test ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `python3 -c script` with piped stdin/stdout.
fn python(script: &str) -> (Reaped, ChildStdin, BufReader<ChildStdout>) {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    (Reaped(child), stdin, stdout)
}

fn expect_line(out: &mut BufReader<ChildStdout>, want: &str) {
    let mut line = String::new();
    out.read_line(&mut line).expect("child writes");
    assert_eq!(line.trim(), want, "child said {line:?}");
}

fn stat_field_22(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &text[text.rfind(')').unwrap() + 1..];
    after.split_whitespace().nth(19).unwrap().parse().unwrap()
}

#[test]
fn samples_this_process() {
    let pid = std::process::id();
    let mut s = ProcSampler::new("/proc", pid).with_smaps(SmapsPolicy::Always);
    let r = s.sample().unwrap();
    assert_eq!(r.pid, pid);
    assert_eq!(r.start_ticks, stat_field_22(pid));
    assert!(r.rss > MIB, "rss {}", r.rss);
    let anon = r.rss_anon.expect("Linux >= 4.5 has RssAnon");
    let file = r.rss_file.expect("RssFile");
    let shmem = r.rss_shmem.expect("RssShmem");
    // VmRSS is by definition the sum of the three (all in whole kB).
    assert_eq!(anon + file + shmem, r.rss);
    assert!(r.hwm.unwrap() >= r.rss);
    assert!(r.swap.is_some());
    let smaps = r.smaps.expect("smaps_rollup read under Always");
    assert!(
        smaps.rss > 0 && smaps.pss > 0 && smaps.pss <= smaps.rss,
        "{smaps:?}"
    );
    assert!(smaps.anonymous > 0);
    assert!(s.smaps_note().is_none());
    assert!(s.smaps_cost().is_some());
    // The start time is the process's identity: it does not move between samples.
    assert_eq!(s.sample().unwrap().start_ticks, r.start_ticks);
}

#[test]
fn never_policy_reads_no_smaps_and_a_long_interval_keeps_it() {
    let pid = std::process::id();
    let mut never = ProcSampler::new("/proc", pid);
    assert!(never.sample().unwrap().smaps.is_none());
    assert!(never.smaps_note().is_none());

    // 1% of an hour is 36 s: no smaps_rollup read costs that.
    let mut auto = ProcSampler::new("/proc", pid).with_smaps(SmapsPolicy::Auto {
        interval: Duration::from_secs(3600),
    });
    for _ in 0..3 {
        assert!(auto.sample().unwrap().smaps.is_some());
    }
    assert!(auto.smaps_note().is_none());
}

#[test]
fn anon_rss_rises_by_what_a_child_allocates() {
    let (child, mut stdin, mut out) = python(
        "import sys, time\n\
         print('base', flush=True)\n\
         sys.stdin.readline()\n\
         b = bytearray(b'\\x01') * (64 << 20)\n\
         print('ready', flush=True)\n\
         time.sleep(120)\n",
    );
    let pid = child.0.id();
    let mut s = ProcSampler::new("/proc", pid).with_smaps(SmapsPolicy::Always);
    expect_line(&mut out, "base");
    let before = s.sample().unwrap();
    writeln!(stdin, "go").unwrap();
    expect_line(&mut out, "ready");
    let after = s.sample().unwrap();

    assert_eq!(before.start_ticks, after.start_ticks);
    let rise = after.rss_anon.unwrap() as i64 - before.rss_anon.unwrap() as i64;
    // 64 MiB, filled byte by byte so every page is touched; the interpreter adds a little.
    assert!(
        (56 * MIB as i64..=80 * MIB as i64).contains(&rise),
        "RssAnon rose by {} MiB",
        rise / MIB as i64
    );
    let smaps_rise = after.smaps.unwrap().anonymous as i64 - before.smaps.unwrap().anonymous as i64;
    assert!(
        (56 * MIB as i64..=80 * MIB as i64).contains(&smaps_rise),
        "smaps Anonymous rose by {} MiB",
        smaps_rise / MIB as i64
    );
    assert!(after.hwm.unwrap() >= after.rss);
}

#[test]
fn a_reaped_process_has_vanished() {
    let mut child = Command::new("true").spawn().expect("true runs");
    let pid = child.id();
    child.wait().unwrap();
    let mut s = ProcSampler::new("/proc", pid);
    match s.sample() {
        Err(ProbeError::Vanished { pid: p }) => assert_eq!(p, pid),
        other => panic!("expected Vanished, got {other:?}"),
    }
    assert!(!pid_alive(Path::new("/proc"), pid));
}

#[test]
fn a_zombie_has_vanished() {
    let child = Reaped(Command::new("true").spawn().expect("true runs"));
    let pid = child.0.id();
    // Not yet reaped: wait until the kernel has made it a zombie.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        if stat[stat.rfind(')').unwrap() + 1..]
            .trim_start()
            .starts_with('Z')
        {
            break;
        }
        assert!(Instant::now() < deadline, "child never became a zombie");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(matches!(
        ProcSampler::new("/proc", pid).sample(),
        Err(ProbeError::Vanished { .. })
    ));
    assert!(!pid_alive(Path::new("/proc"), pid));
    drop(child);
}

#[test]
fn a_comm_with_parens_and_spaces_parses() {
    let (child, _stdin, mut out) = python(
        "import time\n\
         open('/proc/self/comm', 'w').write('x) (y) z')\n\
         print('ready', flush=True)\n\
         time.sleep(120)\n",
    );
    expect_line(&mut out, "ready");
    let pid = child.0.id();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim_end(), "x) (y) z");
    let r = ProcSampler::new("/proc", pid).sample().unwrap();
    assert_eq!(r.start_ticks, stat_field_22(pid));
    assert!(r.rss > 0);
    assert!(pid_alive(Path::new("/proc"), pid));
}

#[test]
fn recorded_process_with_hostile_comm_and_no_smaps_rollup() {
    // fixtures/cgroup/v1-host/proc/18011: recorded on this machine (record-v1-host.sh) from a
    // python3 whose comm is `evil) (comm`; its smaps_rollup was left out, as on Linux < 4.14.
    let root = fixture_proc();
    let mut s = ProcSampler::new(&root, 18011).with_smaps(SmapsPolicy::Always);
    let r = s.sample().unwrap();
    assert_eq!(r.start_ticks, 857728);
    assert_eq!(r.rss, 13580 * 1024);
    assert_eq!(r.rss_anon, Some(6868 * 1024));
    assert_eq!(r.rss_file, Some(6712 * 1024));
    assert_eq!(r.rss_shmem, Some(0));
    assert_eq!(r.hwm, Some(13580 * 1024));
    assert_eq!(r.swap, Some(0));
    assert_eq!(r.smaps, None);
    let note = s.smaps_note().expect("says why there is no PSS");
    assert!(note.contains("Linux < 4.14"), "{note}");
    assert!(pid_alive(&root, 18011));
    assert!(!pid_alive(&root, 18012));
    assert!(matches!(
        ProcSampler::new(&root, 18012).sample(),
        Err(ProbeError::Vanished { pid: 18012 })
    ));
}

#[test]
fn mem_total_of_this_machine_and_of_a_tree_without_meminfo() {
    let total = mem_total(Path::new("/proc")).unwrap();
    assert!(total > 64 * MIB, "MemTotal {total}");
    assert_eq!(total % 1024, 0);

    match mem_total(&fixture_proc()) {
        Err(ProbeError::Missing { path }) => assert!(path.ends_with("proc/meminfo")),
        other => panic!("expected Missing, got {other:?}"),
    }
}
