//! External load commands: exit status, output, environment, and killing on timeout or cancel.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use plateau_load::{run_command, CommandStop};

fn no_cancel() -> AtomicBool {
    AtomicBool::new(false)
}

/// True if `pid` is gone (or only a zombie waiting for a parent that does not reap it).
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            state.starts_with('Z') || state.starts_with('X')
        }
    }
}

#[test]
fn reports_status_output_and_environment() {
    let env = [("PLATEAU_TEST_VALUE".to_string(), "forty-two".to_string())];
    let r = run_command(
        "for i in $(seq 1 30); do echo line $i; done; echo \"value $PLATEAU_TEST_VALUE\" >&2; exit 3",
        &env,
        Duration::from_secs(10),
        &no_cancel(),
    )
    .unwrap();
    assert_eq!(r.status.code(), Some(3));
    assert_eq!(r.stopped, None);
    assert_eq!(r.last_output_lines.len(), 20);
    assert_eq!(r.last_output_lines.last().unwrap(), "value forty-two");
    assert_eq!(r.last_output_lines[0], "line 12");
    assert!(r.duration < Duration::from_secs(5));
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let dir = std::env::temp_dir().join(format!("plateau-load-cmd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join("pid");
    let started = Instant::now();
    let r = run_command(
        &format!(
            "sleep 30 & echo $! > {}; echo started; wait",
            pidfile.display()
        ),
        &[],
        Duration::from_millis(300),
        &no_cancel(),
    )
    .unwrap();
    assert_eq!(r.stopped, Some(CommandStop::Timeout));
    assert!(!r.status.success());
    assert_eq!(r.last_output_lines, ["started"]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !is_dead(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(is_dead(pid), "the background sleep {pid} survived");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_command_ignoring_sigterm_gets_sigkill() {
    let started = Instant::now();
    let r = run_command(
        "trap '' TERM; sleep 30",
        &[],
        Duration::from_millis(100),
        &no_cancel(),
    )
    .unwrap();
    assert_eq!(r.stopped, Some(CommandStop::Timeout));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn cancel_kills_the_command() {
    let cancel = AtomicBool::new(false);
    let started = Instant::now();
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(150));
            cancel.store(true, SeqCst);
        });
        run_command("sleep 30", &[], Duration::from_secs(60), &cancel)
    })
    .unwrap();
    assert_eq!(r.stopped, Some(CommandStop::Cancelled));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn stragglers_left_by_the_shell_are_ended() {
    let started = Instant::now();
    let r = run_command(
        "sleep 30 & echo done",
        &[],
        Duration::from_secs(10),
        &no_cancel(),
    )
    .unwrap();
    assert_eq!(r.status.code(), Some(0));
    assert_eq!(r.stopped, None);
    assert_eq!(r.last_output_lines, ["done"]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
