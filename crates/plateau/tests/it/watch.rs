//! `plateau watch` on real processes: readings, JSON events, a target that exits, restarts,
//! alerts, a killed watcher resuming its file, and bad targets.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{plateau, scratch_dir, stderr, stdout};

fn events(out: &std::process::Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A python process that allocates `mib_per_step` MiB every `step` seconds, `steps` times,
/// then sleeps (or exits when `exit_after` is set).
fn python_grower(
    mib_per_step: u32,
    step: f64,
    steps: u32,
    exit_after: bool,
) -> std::process::Child {
    let tail = if exit_after { "" } else { "time.sleep(600)" };
    Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import time\nkeep=[]\nfor _ in range({steps}):\n    keep.append(bytearray({mib_per_step}*1048576))\n    time.sleep({step})\n{tail}\n"
        ))
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 runs")
}

#[test]
fn a_pid_gives_samples_and_a_final_verdict_as_json() {
    let mut child = python_grower(1, 0.1, 1, false);
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    let out = plateau(&[
        "watch",
        "--pid",
        &pid,
        "--interval",
        "100ms",
        "--duration",
        "2s",
        "--json",
    ]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let events = events(&out);
    let samples: Vec<_> = events.iter().filter(|e| e["event"] == "sample").collect();
    assert!(samples.len() >= 10, "{} samples", samples.len());
    let first = &samples[0];
    assert!(
        first["values"]["rss"].as_u64().unwrap() > 1 << 20,
        "{first}"
    );
    assert!(first["values"]["anon"].as_u64().is_some(), "{first}");
    assert_eq!(first["pid"], child.id());
    // The limit (cgroup or host memory) is recorded once.
    assert!(
        first["limit"].as_u64().is_some_and(|l| l > 1 << 26),
        "{first}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["event"], "final");
    assert_eq!(last["stopped_early"], false);
    assert_eq!(last["schema_version"], 1);
    assert!(last["verdict"].is_string());
}

#[test]
fn a_pid_that_exits_keeps_the_verdict_so_far() {
    let mut child = python_grower(4, 0.05, 20, true);
    let pid = child.id().to_string();
    let dir = scratch_dir();
    let dir = dir.path();
    let series = dir.join("s.series");
    let out = plateau(&[
        "watch",
        "--pid",
        &pid,
        "--interval",
        "50ms",
        "--duration",
        "20s",
        "--out",
        series.to_str().unwrap(),
    ]);
    // Not reaped until now: plateau saw a zombie, whose memory is gone.
    child.wait().unwrap();
    let text = stdout(&out);
    assert!(text.contains("watching stopped early: process"), "{text}");
    assert!(text.contains("series saved to"), "{text}");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    // The recording is complete and readable.
    let out = plateau(&["classify", series.to_str().unwrap(), "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(doc["readings"].as_u64().unwrap() >= 4, "{doc}");
}

#[test]
fn a_fast_leak_alerts_and_runs_the_hook() {
    let dir = scratch_dir();
    let dir = dir.path();
    let marker = dir.join("alerted");
    let hook = format!(
        "echo \"$PLATEAU_VERDICT $PLATEAU_ALERT\" > {}",
        marker.display()
    );
    let mut child = python_grower(3, 0.05, 160, false);
    let pid = child.id().to_string();
    let out = plateau(&[
        "watch",
        "--pid",
        &pid,
        "--interval",
        "50ms",
        "--duration",
        "7s",
        "--alert-slope",
        "1M",
        "--on-alert",
        &hook,
    ]);
    child.kill().unwrap();
    child.wait().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}{err}", stdout(&out));
    assert!(stdout(&out).starts_with("LEAK"), "{}", stdout(&out));
    // 60 MiB/s against the host's memory is also an imminent OOM, which takes precedence.
    assert!(err.contains("plateau: ALERT "), "{err}");
    std::thread::sleep(Duration::from_millis(300));
    let hooked = std::fs::read_to_string(&marker).expect("the alert hook ran");
    assert!(hooked.starts_with("leak "), "{hooked}");
}

#[test]
fn a_supervised_command_is_restarted_and_its_output_passed_on() {
    let out = plateau(&[
        "watch",
        "--interval",
        "100ms",
        "--duration",
        "20s",
        "--restarts",
        "1",
        "--json",
        "--",
        "python3",
        "-c",
        "import time; print('hello from the child', flush=True); time.sleep(1.8)",
    ]);
    let events = events(&out);
    let err = stderr(&out);
    assert!(err.matches("hello from the child").count() == 2, "{err}");
    assert!(err.contains("restarting it"), "{err}");
    let restarts = events.iter().filter(|e| e["event"] == "restart").count();
    assert_eq!(restarts, 1, "{}", stdout(&out));
    let last = events.last().unwrap();
    assert_eq!(last["event"], "final");
    assert_eq!(last["stopped_early"], true);
    assert_eq!(last["restarts"], 1);
}

#[test]
fn a_killed_watcher_resumes_its_file() {
    let dir = scratch_dir();
    let dir = dir.path();
    let series = dir.join("s.series");
    let mut child = python_grower(1, 0.1, 1, false);
    let pid = child.id().to_string();
    let mut watcher = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .args(["watch", "--pid", &pid, "--interval", "50ms", "--out"])
        .arg(&series)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    watcher.kill().unwrap(); // SIGKILL: no chance to clean up
    watcher.wait().unwrap();
    // Simulate a kill in the middle of a line too.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&series)
        .unwrap()
        .write_all(b"{\"t\":1.0,\"rss\":12")
        .unwrap();
    let before = plateau(&["classify", series.to_str().unwrap(), "--json"]);
    let before: serde_json::Value = serde_json::from_str(&stdout(&before)).unwrap();
    let out = plateau(&[
        "watch",
        "--pid",
        &pid,
        "--interval",
        "50ms",
        "--duration",
        "1s",
        "--out",
        series.to_str().unwrap(),
    ]);
    child.kill().unwrap();
    child.wait().unwrap();
    let err = stderr(&out);
    assert!(err.contains("resuming"), "{err}");
    assert!(err.contains("cut a torn last line (17 bytes)"), "{err}");
    let after = plateau(&["classify", series.to_str().unwrap(), "--json"]);
    let after: serde_json::Value = serde_json::from_str(&stdout(&after)).unwrap();
    assert!(
        after["readings"].as_u64() > before["readings"].as_u64(),
        "{after}"
    );
    assert_eq!(after["skipped_lines"], 0);
    assert!(after["warnings"].as_array().unwrap().is_empty(), "{after}");
}

#[test]
fn a_metrics_endpoint_is_sampled() {
    let body = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../plateau-probe/fixtures/prometheus/node-prom-client.txt"),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = write!(
                &stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let out = plateau(&[
        "watch",
        "--metrics",
        &url,
        "--interval",
        "100ms",
        "--duration",
        "1s",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let events = events(&out);
    let sample = events.iter().find(|e| e["event"] == "sample").unwrap();
    assert_eq!(sample["values"]["heap_used"], 11_142_904, "{sample}");
    assert_eq!(sample["values"]["rss"], 62_730_240, "{sample}");
}

#[test]
fn bad_targets_are_one_line_and_exit_2() {
    let cases: [&[&str]; 4] = [
        &["watch", "--pid", "999999999", "--duration", "1s"],
        &["watch", "--duration", "1s"],
        &[
            "watch",
            "--metrics",
            "http://127.0.0.1:1/metrics",
            "--duration",
            "1s",
        ],
        &["watch", "--duration", "1s", "--", "/nonexistent/program"],
    ];
    for args in cases {
        let out = plateau(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    let out = plateau(&["watch", "--pid", "999999999", "--duration", "1s"]);
    assert!(
        stderr(&out).contains("process 999999999 is gone"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_gc_log_is_followed_as_it_grows() {
    let dir = scratch_dir();
    let dir = dir.path();
    let log = dir.join("app-gc.log");
    std::fs::write(&log, "old line written before watching\n").unwrap();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../plateau-probe/fixtures/gc/node-trace-gc.log");
    let lines: Vec<String> = std::fs::read_to_string(fixture)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let writer_log = log.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(writer_log)
            .unwrap();
        for chunk in lines.chunks(20) {
            for line in chunk {
                writeln!(file, "{line}").unwrap();
            }
            file.flush().unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let out = plateau(&[
        "watch",
        "--gc-log",
        log.to_str().unwrap(),
        "--interval",
        "100ms",
        "--duration",
        "2s",
        "--json",
    ]);
    writer.join().unwrap();
    assert_eq!(
        out.status.code().map(|c| c < 2),
        Some(true),
        "{}",
        stderr(&out)
    );
    let events = events(&out);
    let live = events
        .iter()
        .filter(|e| e["values"]["gc_live"].is_u64())
        .count();
    let used = events
        .iter()
        .filter(|e| e["values"]["gc_after"].is_u64())
        .count();
    // The fixture has 83 collections, 7 of them Mark-Compact.
    assert_eq!(live, 7, "{}", stdout(&out));
    assert_eq!(live + used, 83);
    assert_eq!(
        events.last().unwrap()["source"],
        format!("GC log {}", log.display())
    );
}

#[test]
fn on_a_terminal_the_status_line_is_redrawn_with_a_sparkline() {
    // `script` (util-linux) gives plateau a pseudo-terminal; without it there is no TTY to test.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` is not installed");
        return;
    }
    let mut child = python_grower(1, 0.1, 1, false);
    let command = format!(
        "{} watch --pid {} --interval 100ms --duration 3s",
        env!("CARGO_BIN_EXE_plateau"),
        child.id()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    // Redrawn in place: carriage return and erase-line between updates.
    assert!(screen.matches("\r\x1b[2K").count() >= 1, "{screen:?}");
    assert!(screen.contains("anon "), "{screen:?}");
    assert!(screen.contains('▁') || screen.contains('█'), "{screen:?}");
    assert!(screen.contains("source: pid"), "{screen:?}");
}
