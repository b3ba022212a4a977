//! One watched target and its readings: a process (with its cgroup), a cgroup, a Prometheus
//! endpoint, or a command plateau starts and supervises (restarting it when asked), plus GC
//! lines from the child's output or a log file. Each [`Sampler::tick`] returns store records.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use plateau_analysis::series::{EventKind, Signal};

use crate::cgroup::{cgroup_of_pid, open_cgroup, Cgroup};
use crate::gclog::{GcEvent, GcLogParser, GcParseStats, LineOutcome};
use crate::procfs::{mem_total, ProbeError, ProcSampler, SmapsPolicy};
use crate::prometheus::{fetch_metrics, memory_metrics, parse_exposition};
use crate::store::Record;

/// What to watch.
#[derive(Clone, Debug)]
pub enum Target {
    Pid(u32),
    Cgroup(PathBuf),
    /// A Prometheus `/metrics` URL.
    Metrics(String),
    /// Nothing but the GC log in the options (a process elsewhere writes it).
    GcLogOnly,
    /// A command to start; restarted up to `restarts` times when it exits.
    Command {
        program: String,
        args: Vec<String>,
        restarts: u32,
        /// Ask the runtimes to print GC lines (`node --trace-gc`, JAVA_TOOL_OPTIONS, GODEBUG).
        gc_trace: bool,
        /// Added to the inherited environment (`PORT`, `NODE_OPTIONS`, `PYTHONPATH`...).
        env: Vec<(String, String)>,
    },
}

#[derive(Clone, Debug)]
pub struct SamplerOptions {
    pub interval: Duration,
    /// A GC log to follow (read from its end as it grows).
    pub gc_log: Option<PathBuf>,
    pub proc_root: PathBuf,
    pub metrics_timeout: Duration,
}

impl Default for SamplerOptions {
    fn default() -> Self {
        SamplerOptions {
            interval: Duration::from_secs(1),
            gc_log: None,
            proc_root: PathBuf::from("/proc"),
            metrics_timeout: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the GC log {}: {source}", path.display())]
    GcLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Metrics(String),
}

/// Why watching stopped on its own.
#[derive(Clone, Debug, PartialEq)]
pub enum Ended {
    /// The watched process is gone.
    Vanished { pid: u32 },
    /// The supervised command exited and no restarts are left.
    Exited { code: Option<i32> },
}

/// What one tick produced.
#[derive(Debug, Default)]
pub struct Tick {
    pub records: Vec<Record>,
    /// The child's own output lines (GC lines removed), to pass on.
    pub output: Vec<String>,
    /// Readings that failed this tick but did not end the watch (e.g. a metrics timeout).
    pub problems: Vec<String>,
    pub ended: Option<Ended>,
}

/// A supervised child and the thread-fed channel of its output lines.
struct Supervised {
    child: Child,
    lines: Receiver<String>,
    restarts_left: u32,
    started: Instant,
}

/// A process that has just been spawned is still loading its runtime: its first readings
/// (a few hundred KiB) are no baseline and would pass for growth.
const STARTUP_GRACE: Duration = Duration::from_millis(1000);

pub struct Sampler {
    target: Target,
    options: SamplerOptions,
    proc: Option<ProcSampler>,
    start_ticks: Option<u64>,
    cgroup: Option<Cgroup>,
    last_limit: Option<Option<u64>>,
    last_oom_kills: Option<u64>,
    last_start_time: Option<f64>,
    host_memory: Option<u64>,
    child: Option<Supervised>,
    gc_parser: GcLogParser,
    gc_log: Option<(PathBuf, File, Vec<u8>)>,
    notes: Vec<String>,
}

impl Sampler {
    /// Starts watching (and, for a command, starts it).
    pub fn start(target: Target, options: SamplerOptions) -> Result<Sampler, SamplerError> {
        let gc_log = match &options.gc_log {
            Some(path) => {
                let mut file = File::open(path).map_err(|source| SamplerError::GcLog {
                    path: path.clone(),
                    source,
                })?;
                // Earlier lines carry old uptimes; only what is written from now on counts.
                file.seek(SeekFrom::End(0))
                    .map_err(|source| SamplerError::GcLog {
                        path: path.clone(),
                        source,
                    })?;
                Some((path.clone(), file, Vec::new()))
            }
            None => None,
        };
        let mut sampler = Sampler {
            target: target.clone(),
            host_memory: mem_total(&options.proc_root).ok(),
            options,
            proc: None,
            start_ticks: None,
            cgroup: None,
            last_limit: None,
            last_oom_kills: None,
            last_start_time: None,
            child: None,
            gc_parser: GcLogParser::new(),
            gc_log,
            notes: Vec::new(),
        };
        match &target {
            Target::Pid(pid) => sampler.attach(*pid)?,
            Target::Cgroup(dir) => sampler.cgroup = Some(open_cgroup(dir)?),
            Target::Metrics(url) => {
                fetch_metrics(url, sampler.options.metrics_timeout)
                    .map_err(|e| SamplerError::Metrics(format!("{url}: {e}")))?;
            }
            Target::Command { restarts, .. } => {
                let restarts = *restarts;
                sampler.spawn(restarts)?;
            }
            Target::GcLogOnly => {
                if sampler.gc_log.is_none() {
                    return Err(SamplerError::Metrics(
                        "nothing to watch: no target and no GC log".to_string(),
                    ));
                }
            }
        }
        Ok(sampler)
    }

    /// Notes gathered while starting (cgroup fallbacks, smaps policy): say them once.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// The pid being sampled, if any.
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(ProcSampler::pid)
    }

    pub fn gc_stats(&self) -> &GcParseStats {
        self.gc_parser.stats()
    }

    pub fn describe(&self) -> String {
        match &self.target {
            Target::Pid(pid) => format!("pid {pid}"),
            Target::Cgroup(dir) => format!("cgroup {}", dir.display()),
            Target::Metrics(url) => url.clone(),
            Target::GcLogOnly => match &self.options.gc_log {
                Some(path) => format!("GC log {}", path.display()),
                None => "nothing".to_string(),
            },
            Target::Command { program, args, .. } => std::iter::once(program.as_str())
                .chain(args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    fn attach(&mut self, pid: u32) -> Result<(), SamplerError> {
        let root = &self.options.proc_root;
        let mut proc = ProcSampler::new(root.clone(), pid);
        let first = proc.sample()?;
        // `RssAnon` (Linux >= 4.5) is the anonymous memory; `smaps_rollup` walks every mapping
        // in the kernel for the same number, so it is read only where `RssAnon` is missing.
        if first.rss_anon.is_none() {
            proc = proc.with_smaps(SmapsPolicy::Auto {
                interval: self.options.interval,
            });
        }
        self.start_ticks = Some(first.start_ticks);
        self.proc = Some(proc);
        match cgroup_of_pid(root, pid) {
            Ok(cgroup) => {
                if let Some(note) = &cgroup.note {
                    self.notes.push(note.clone());
                }
                self.cgroup = Some(cgroup);
            }
            Err(e) => self.notes.push(format!("no cgroup readings: {e}")),
        }
        Ok(())
    }

    fn spawn(&mut self, restarts_left: u32) -> Result<(), SamplerError> {
        let Target::Command {
            program,
            args,
            gc_trace,
            env,
            ..
        } = &self.target
        else {
            return Ok(());
        };
        let mut command = Command::new(program);
        let is_node = Path::new(program)
            .file_name()
            .is_some_and(|name| name == "node" || name == "nodejs");
        // Node refuses --trace-gc in NODE_OPTIONS; it must be a command-line flag.
        if *gc_trace && is_node && !args.iter().any(|a| a == "--trace-gc") {
            command.arg("--trace-gc");
        }
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .envs(env.iter().map(|(k, v)| (k, v)));
        if *gc_trace {
            for (key, flag) in [("JAVA_TOOL_OPTIONS", "-Xlog:gc"), ("GODEBUG", "gctrace=1")] {
                let separator = if key == "GODEBUG" { "," } else { " " };
                let given = env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
                let value = match given.or_else(|| std::env::var(key).ok()) {
                    Some(old) if !old.is_empty() => format!("{old}{separator}{flag}"),
                    _ => flag.to_string(),
                };
                command.env(key, value);
            }
        }
        let mut child = command.spawn().map_err(|source| SamplerError::Spawn {
            program: program.clone(),
            source,
        })?;
        let (sender, lines) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            forward_lines(out, sender.clone());
        }
        if let Some(err) = child.stderr.take() {
            forward_lines(err, sender);
        }
        let pid = child.id();
        self.child = Some(Supervised {
            child,
            lines,
            restarts_left,
            started: Instant::now(),
        });
        self.proc = None;
        if let Err(e) = self.attach(pid) {
            // It may have died at once; the next tick reports the exit with its output.
            self.notes.push(format!("pid {pid}: {e}"));
        }
        Ok(())
    }

    /// Takes one round of readings at time `t` (seconds).
    pub fn tick(&mut self, t: f64) -> Tick {
        let mut tick = Tick::default();
        self.drain_child_output(t, &mut tick);
        self.follow_gc_log(t, &mut tick);
        if let Some(ended) = self.check_child(t, &mut tick) {
            tick.ended = Some(ended);
            return tick;
        }
        let mut record = Record::at(t);
        let starting = self
            .child
            .as_ref()
            .is_some_and(|c| c.started.elapsed() < STARTUP_GRACE);
        if let Some(proc) = self.proc.as_mut().filter(|_| !starting) {
            match proc.sample() {
                Ok(reading) => {
                    if self.start_ticks.is_some_and(|s| s != reading.start_ticks) {
                        tick.records.push(event(t, EventKind::Restart, reading.pid));
                    }
                    self.start_ticks = Some(reading.start_ticks);
                    record.pid = Some(reading.pid);
                    record.values.push((Signal::Resident, reading.rss));
                    let anon = reading.smaps.map(|s| s.anonymous).or(reading.rss_anon);
                    if let Some(anon) = anon {
                        record.values.push((Signal::Anonymous, anon));
                    }
                }
                Err(ProbeError::Vanished { pid }) => {
                    if self.child.is_none() {
                        tick.ended = Some(Ended::Vanished { pid });
                        return tick;
                    }
                }
                Err(e) => tick.problems.push(e.to_string()),
            }
        }
        if let Some(cgroup) = &self.cgroup {
            match cgroup.sample() {
                Ok(reading) => {
                    // A process's group may hold much else (a desktop session, a CI job), so its
                    // totals are signals only when the group itself is the target; for a
                    // process it gives the limit and the OOM kills.
                    if matches!(self.target, Target::Cgroup(_)) {
                        record
                            .values
                            .push((Signal::WorkingSet, reading.working_set));
                        record.values.push((Signal::Usage, reading.usage));
                        if let Some(anon) = reading.anon {
                            record.values.push((Signal::Anonymous, anon));
                        }
                    }
                    let limit = reading.limit.or(self.host_memory);
                    if self.last_limit != Some(limit) {
                        record.limit = Some(limit);
                        self.last_limit = Some(limit);
                    }
                    if let Some(kills) = reading.oom_kills {
                        if self.last_oom_kills.is_some_and(|last| kills > last) {
                            tick.records.push(Record {
                                event: Some(EventKind::OomKill),
                                ..Record::at(t)
                            });
                        }
                        self.last_oom_kills = Some(kills);
                    }
                }
                Err(e) => tick.problems.push(e.to_string()),
            }
        } else if self.proc.is_some() && self.last_limit.is_none() {
            record.limit = Some(self.host_memory);
            self.last_limit = Some(self.host_memory);
        }
        if let Target::Metrics(url) = &self.target {
            let url = url.clone();
            self.sample_metrics(&url, &mut record, &mut tick);
        }
        if !record.values.is_empty() || record.limit.is_some() {
            tick.records.push(record);
        }
        tick
    }

    fn sample_metrics(&mut self, url: &str, record: &mut Record, tick: &mut Tick) {
        let text = match fetch_metrics(url, self.options.metrics_timeout) {
            Ok(text) => text,
            Err(e) => {
                tick.problems.push(format!("{url}: {e}"));
                return;
            }
        };
        let samples = match parse_exposition(&text) {
            Ok(samples) => samples,
            Err(e) => {
                tick.problems.push(format!("{url}: {e}"));
                return;
            }
        };
        let metrics = memory_metrics(&samples);
        if let Some(start) = metrics.process_start_time_s {
            if self.last_start_time.is_some_and(|last| last != start) {
                tick.records.push(Record {
                    event: Some(EventKind::Restart),
                    ..Record::at(record.t)
                });
            }
            self.last_start_time = Some(start);
        }
        for (signal, value) in [
            (Signal::HeapUsed, metrics.heap_used),
            (Signal::Resident, metrics.resident),
            (Signal::WorkingSet, metrics.working_set),
        ] {
            if let Some(value) = value {
                record.values.push((signal, value));
            }
        }
    }

    fn drain_child_output(&mut self, t: f64, tick: &mut Tick) {
        let Some(child) = &self.child else { return };
        while let Ok(line) = child.lines.try_recv() {
            match self.gc_parser.feed(&line) {
                LineOutcome::Event(gc) => tick.records.push(gc_record(t, &gc)),
                LineOutcome::NotGc | LineOutcome::Unparseable(_) => tick.output.push(line),
            }
        }
    }

    fn follow_gc_log(&mut self, t: f64, tick: &mut Tick) {
        let Some((path, file, pending)) = &mut self.gc_log else {
            return;
        };
        let mut fresh = Vec::new();
        if let Err(e) = file.read_to_end(&mut fresh) {
            tick.problems
                .push(format!("GC log {}: {e}", path.display()));
            return;
        }
        pending.extend_from_slice(&fresh);
        // Only whole lines: the writer may be in the middle of one.
        let Some(last_newline) = pending.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let complete: Vec<u8> = pending.drain(..=last_newline).collect();
        for line in complete.lines().map_while(Result::ok) {
            if let LineOutcome::Event(gc) = self.gc_parser.feed(&line) {
                tick.records.push(gc_record(t, &gc));
            }
        }
    }

    /// Restarts or ends on a child's exit.
    fn check_child(&mut self, t: f64, tick: &mut Tick) -> Option<Ended> {
        let supervised = self.child.as_mut()?;
        let status = match supervised.child.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => return None,
            Err(e) => {
                tick.problems.push(format!("cannot poll the child: {e}"));
                return None;
            }
        };
        // Its last lines may still be in the pipe.
        std::thread::sleep(Duration::from_millis(50));
        self.drain_child_output(t, tick);
        let code = status.code();
        let restarts_left = self.child.as_ref().map_or(0, |c| c.restarts_left);
        if restarts_left == 0 {
            self.child = None;
            self.proc = None;
            return Some(Ended::Exited { code });
        }
        tick.output.push(format!(
            "plateau: the command exited ({}); restarting it ({} restart{} left)",
            code.map_or("killed by a signal".to_string(), |c| format!("code {c}")),
            restarts_left - 1,
            if restarts_left == 2 { "" } else { "s" }
        ));
        match self.spawn(restarts_left - 1) {
            Ok(()) => {
                let pid = self.pid().unwrap_or(0);
                tick.records.push(event(t, EventKind::Restart, pid));
                None
            }
            Err(e) => {
                tick.problems.push(e.to_string());
                Some(Ended::Exited { code })
            }
        }
    }

    /// Stops a supervised child (SIGKILL; plateau has no unsafe code for gentler signals, and
    /// the child already got the terminal's SIGINT when the user pressed Ctrl-C).
    pub fn stop(&mut self) {
        if let Some(mut supervised) = self.child.take() {
            if matches!(supervised.child.try_wait(), Ok(None)) {
                let _ = supervised.child.kill();
            }
            let _ = supervised.child.wait();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A full collection's after-value is the live heap; any other collection's still holds
/// garbage the collector did not visit (the classifier floors it).
fn gc_record(t: f64, gc: &GcEvent) -> Record {
    let signal = if gc.full {
        Signal::GcLive
    } else {
        Signal::PostGc
    };
    Record {
        values: vec![(signal, gc.after_bytes)],
        ..Record::at(t)
    }
}

fn event(t: f64, kind: EventKind, pid: u32) -> Record {
    Record {
        event: Some(kind),
        pid: Some(pid),
        ..Record::at(t)
    }
}

fn forward_lines(stream: impl Read + Send + 'static, sender: Sender<String>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            match reader.read_until(b'\n', &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buffer)
                        .trim_end_matches(['\n', '\r'])
                        .to_string();
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
}
