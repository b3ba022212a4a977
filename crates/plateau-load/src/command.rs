//! An external load command (`wrk`, `hey`, `k6`, a script), run through `sh -c` in a process
//! group of its own so that a timeout or a cancel ends it and everything it started.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::LoadError;

/// How many of the last output lines are kept.
const LAST_LINES: usize = 20;
/// Characters kept of a very long output line.
const LINE_MAX: usize = 1000;
/// How long the group gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(10);

/// Why a command was stopped before it exited by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandStop {
    Timeout,
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct CommandReport {
    /// The shell's exit status (a signal if it was stopped).
    pub status: ExitStatus,
    pub duration: Duration,
    /// The last lines the command wrote to stdout and stderr (one pipe for both, as `2>&1`; at
    /// most 20, each cut to 1,000 characters, invalid UTF-8 replaced).
    pub last_output_lines: Vec<String>,
    /// `Some` if the command was killed on the timeout or the cancel flag.
    pub stopped: Option<CommandStop>,
}

/// Runs `cmdline` with `sh -c`, with `env` added to the inherited environment and stdin closed,
/// and waits for it, at most `timeout`. On the timeout, or when `cancel` is set (checked every
/// 10 ms), the command's process group gets SIGTERM, then SIGKILL one second later. When the
/// shell exits by itself, whatever it left running in its group is terminated the same way, so
/// no load outlives its phase. A non-zero exit is not an error: see
/// [`CommandReport::status`].
pub fn run_command(
    cmdline: &str,
    env: &[(String, String)],
    timeout: Duration,
    cancel: &AtomicBool,
) -> Result<CommandReport, LoadError> {
    let start = Instant::now();
    // One pipe for stdout and stderr, so the lines keep their order (as with `2>&1`).
    let (output, writer) = std::io::pipe().map_err(|source| LoadError::Io {
        context: "creating a pipe for the load command's output",
        source,
    })?;
    let writer2 = writer.try_clone().map_err(|source| LoadError::Io {
        context: "creating a pipe for the load command's output",
        source,
    })?;
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(cmdline)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let spawned = command.spawn();
    // Our copies of the write end must go, or the reader never sees the end of the output.
    drop(command);
    let mut child = spawned.map_err(|source| LoadError::Spawn {
        command: cmdline.to_string(),
        source,
    })?;
    let group = Pid::from_raw(child.id() as i32);

    let lines = Arc::new(Mutex::new(VecDeque::with_capacity(LAST_LINES)));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            keep_last_lines(output, &lines);
            let _ = done_tx.send(());
        });
    }

    let mut stopped = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(source) => {
                terminate_group(group, None);
                return Err(LoadError::Io {
                    context: "waiting for the load command",
                    source,
                });
            }
        }
        if cancel.load(Relaxed) {
            stopped = Some(CommandStop::Cancelled);
        } else if start.elapsed() >= timeout {
            stopped = Some(CommandStop::Timeout);
        }
        if stopped.is_some() {
            terminate_group(group, Some(&mut child));
            break child.wait().map_err(|source| LoadError::Io {
                context: "waiting for the load command",
                source,
            })?;
        }
        std::thread::sleep(POLL);
    };
    let duration = start.elapsed();
    // Whatever the shell left running in its group (it would keep the load going, and the
    // output pipes open).
    terminate_group(group, None);
    // The output is complete once everything holding the pipe has ended (a process that
    // ignored SIGTERM and escaped the group could hold it forever: then stop waiting).
    let _ = done_rx.recv_timeout(KILL_GRACE);

    let last_output_lines = lines
        .lock()
        .map(|l| l.iter().cloned().collect())
        .unwrap_or_default();
    Ok(CommandReport {
        status,
        duration,
        last_output_lines,
        stopped,
    })
}

/// SIGTERM to the group, then SIGKILL if anything in it still runs after the grace period.
/// `child`, the group's leader, is reaped meanwhile. An error (the group is already gone) ends
/// it early.
fn terminate_group(group: Pid, mut child: Option<&mut Child>) {
    if killpg(group, Signal::SIGTERM).is_err() {
        return;
    }
    let until = Instant::now() + KILL_GRACE;
    while Instant::now() < until {
        if let Some(child) = child.as_mut() {
            let _ = child.try_wait();
        }
        if !group_alive(group) {
            return;
        }
        std::thread::sleep(POLL);
    }
    let _ = killpg(group, Signal::SIGKILL);
}

/// Whether a process of the group is still running. Zombies do not count: killed orphans are
/// reparented to init, which in some containers never reaps them, and signal 0 would still
/// find them. Reads `/proc`; without it, falls back to signal 0.
fn group_alive(group: Pid) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return killpg(group, None).is_ok();
    };
    let group = group.as_raw().to_string();
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
        let mut fields = stat
            .rsplit_once(')')
            .map_or("", |(_, r)| r)
            .split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let pgrp = fields.nth(1).unwrap_or("");
        pgrp == group && !matches!(state, "Z" | "X" | "x")
    })
}

fn keep_last_lines(output: impl Read, lines: &Mutex<VecDeque<String>>) {
    let mut reader = BufReader::new(output);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            line.pop();
        }
        let mut text = String::from_utf8_lossy(&line).into_owned();
        if let Some((cut, _)) = text.char_indices().nth(LINE_MAX) {
            text.truncate(cut);
        }
        if let Ok(mut lines) = lines.lock() {
            if lines.len() == LAST_LINES {
                lines.pop_front();
            }
            lines.push_back(text);
        }
    }
}
