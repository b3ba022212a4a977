//! `plateau repro`: start a service, load it in rounds, watch its memory, take heap snapshots
//! at the phase boundaries without touching its code, diff them, and give one verdict.
//!
//! Phases: ready (the port answers), warm-up, snapshot 0 (the baseline), N rounds each
//! followed by a snapshot, a cool-down (idle) and a last reading. The snapshots after the
//! warm-up and after every round are diffed; the cool-down tells whether memory comes back.

use std::collections::VecDeque;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use plateau_analysis::series::{classify, ClassifyOptions, MemorySeries, Signal, Verdict};
use plateau_analysis::{format_bytes, DiffOptions};
use plateau_load::{LoadPlan, LoadReport, RequestSpec};
use plateau_probe::capture::{self, CaptureError};
use plateau_probe::sampler::{Ended, Sampler, SamplerOptions, Target};
use plateau_probe::store::{Record, SeriesWriter, StoreHeader};
use serde_json::{json, Value};

use crate::cli::ReproArgs;
use crate::Outcome;

/// How plateau takes snapshots of the service.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Runtime {
    /// The inspector (opened on loopback through `NODE_OPTIONS`), DevTools protocol.
    Node,
    /// `jcmd <pid> GC.heap_dump` (live objects).
    Java,
    /// tracemalloc, started by a `sitecustomize` put on `PYTHONPATH`; dumps on a signal.
    Python,
    /// A pprof heap profile fetched from a URL (`--pprof-url`).
    Pprof,
    /// Memory readings only.
    None,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Node => "node",
            Runtime::Java => "java",
            Runtime::Python => "python",
            Runtime::Pprof => "pprof",
            Runtime::None => "none",
        }
    }

    fn from_command(program: &str) -> Runtime {
        let name = Path::new(program)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        match name {
            "node" | "nodejs" => Runtime::Node,
            "java" => Runtime::Java,
            n if n.starts_with("python") => Runtime::Python,
            _ => Runtime::None,
        }
    }

    fn snapshot_suffix(self) -> &'static str {
        match self {
            Runtime::Node => "heapsnapshot",
            Runtime::Java => "hprof",
            Runtime::Python => "tracemalloc",
            Runtime::Pprof => "pb.gz",
            Runtime::None => "",
        }
    }
}

/// One run's settings (from the command line or a `plateau.toml` scenario).
#[derive(Clone, Debug)]
pub struct ReproConfig {
    pub name: String,
    pub command: Vec<String>,
    /// Attach to this running service instead of starting `command` (it is left running).
    pub pid: Option<u32>,
    /// With `{port}` substituted; one of `url`, `requests_file`, `load_cmd`.
    pub url: Option<String>,
    pub requests_file: Option<PathBuf>,
    pub load_cmd: Option<String>,
    pub warmup: u64,
    pub rounds: u32,
    pub requests: u64,
    pub connections: usize,
    pub rate: Option<f64>,
    /// Longest a load phase may take.
    pub phase_timeout: Duration,
    pub cooldown: Duration,
    pub ready_timeout: Duration,
    /// A path that must answer 2xx before the load starts.
    pub health: Option<String>,
    pub runtime: Option<Runtime>,
    pub pprof_url: Option<String>,
    pub capture_timeout: Duration,
    pub out_dir: PathBuf,
    pub interval: Duration,
    pub allow_remote: bool,
    pub min_growth: u64,
    pub show_progress: bool,
}

impl ReproConfig {
    pub fn from_args(args: &ReproArgs) -> anyhow::Result<ReproConfig> {
        if args.command.is_empty() && args.pid.is_none() {
            bail!("no command: give the service's command after `--`, e.g. `plateau repro --url 'http://127.0.0.1:{{port}}/' -- node server.js`, or --pid of a running one");
        }
        if !args.command.is_empty() && args.pid.is_some() {
            bail!("give either --pid or a command, not both");
        }
        let loads = [
            args.url.is_some(),
            args.requests_file.is_some(),
            args.load_cmd.is_some(),
        ];
        if loads.iter().filter(|&&l| l).count() != 1 {
            bail!("give exactly one of --url, --requests-file (with --url for the address) or --load-cmd");
        }
        let out_dir = match &args.out {
            Some(dir) => dir.clone(),
            None => {
                let stamp = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                PathBuf::from(format!("plateau-run-{stamp}"))
            }
        };
        Ok(ReproConfig {
            name: match args.pid {
                Some(pid) => format!("pid {pid}"),
                None => args.command.join(" "),
            },
            command: args.command.clone(),
            pid: args.pid,
            url: args.url.clone(),
            requests_file: args.requests_file.clone(),
            load_cmd: args.load_cmd.clone(),
            warmup: args.warmup,
            rounds: args.rounds,
            requests: args.requests,
            connections: args.connections,
            rate: args.rate,
            phase_timeout: args.phase_timeout,
            cooldown: args.cooldown,
            ready_timeout: args.ready_timeout,
            health: args.health.clone(),
            runtime: args.runtime,
            pprof_url: args.pprof_url.clone(),
            capture_timeout: args.capture_timeout,
            out_dir,
            interval: args.interval,
            allow_remote: args.allow_remote,
            min_growth: args.min_growth,
            show_progress: !args.no_progress && !args.json,
        })
    }
}

pub fn run(args: &ReproArgs) -> anyhow::Result<Outcome> {
    let config = ReproConfig::from_args(args)?;
    let stop = install_stop_handler()?;
    let result = execute(&config, &stop)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &result)?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(run_text(&result).as_bytes())?;
    }
    Ok(outcome_of(&result))
}

/// 1 on a leak, 0 otherwise (the caller maps errors to 2).
pub fn outcome_of(result: &Value) -> Outcome {
    if result["verdict"] == "leak" {
        Outcome::LeakFound
    } else {
        Outcome::Fine
    }
}

/// Ctrl-C stops the run; the child is killed when the sampler is dropped.
pub fn install_stop_handler() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // A second installation (check runs several scenarios) keeps the first handler.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    Ok(stop)
}

/// A free loopback port (the kernel's pick; released at once for the service to take).
fn free_port() -> anyhow::Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").context("cannot find a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

fn substitute(text: &str, port: u16) -> String {
    text.replace("{port}", &port.to_string())
}

/// The service, its memory readings and its last output lines.
struct Watched {
    sampler: Sampler,
    series: MemorySeries,
    records: Vec<Record>,
    tail: VecDeque<String>,
    inspector: Option<String>,
    wall_start: f64,
    started: Instant,
    interval: Duration,
    ended: Option<Ended>,
}

const TAIL_LINES: usize = 20;

/// Under the run directory: the tracemalloc helper and its snapshots.
const PYTHON_DIR: &str = "python";

impl Watched {
    fn now(&self) -> f64 {
        self.wall_start + self.started.elapsed().as_secs_f64()
    }

    /// One round of readings; an error once the service has exited.
    fn tick(&mut self) -> anyhow::Result<()> {
        let t = self.now();
        let tick = self.sampler.tick(t);
        for line in tick.output {
            if self.inspector.is_none() {
                self.inspector = capture::parse_inspector_banner(&line);
            }
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(line);
        }
        for record in tick.records {
            for (signal, bytes) in &record.values {
                self.series.push(*signal, record.t, *bytes);
            }
            if let Some(kind) = record.event {
                self.series.push_event(record.t, kind);
            }
            self.records.push(record);
        }
        if let Some(ended) = tick.ended {
            self.ended = Some(ended.clone());
            bail!("{}{}", ended_words(&ended), self.tail_text());
        }
        Ok(())
    }

    /// Ticks until `done` says so or `limit` passes; false on the time limit.
    fn wait_for(
        &mut self,
        limit: Duration,
        stop: &AtomicBool,
        mut done: impl FnMut(&mut Self) -> bool,
    ) -> anyhow::Result<bool> {
        let until = Instant::now() + limit;
        loop {
            self.tick()?;
            if stop.load(Ordering::SeqCst) {
                bail!("interrupted");
            }
            if done(self) {
                return Ok(true);
            }
            if Instant::now() >= until {
                return Ok(false);
            }
            std::thread::sleep(
                self.interval
                    .min(until.saturating_duration_since(Instant::now())),
            );
        }
    }

    fn tail_text(&self) -> String {
        if self.tail.is_empty() {
            return String::new();
        }
        let lines: Vec<&str> = self.tail.iter().map(String::as_str).collect();
        format!("; its last output:\n  {}", lines.join("\n  "))
    }

    /// The latest reading of `signal`.
    fn latest(&self, signal: Signal) -> Option<u64> {
        self.series.signal(signal).last().map(|p| p.bytes)
    }

    /// The memory at a phase boundary: the live heap the GC at `since` (a capture's) left,
    /// if the runtime printed it, and the anonymous (else resident) memory now.
    fn boundary(&self, label: String, since: f64, requests_so_far: u64) -> Boundary {
        Boundary {
            label,
            gc_live: self
                .series
                .signal(Signal::GcLive)
                .iter()
                .rev()
                .find(|p| p.t >= since)
                .map(|p| p.bytes),
            anonymous: self
                .latest(Signal::Anonymous)
                .or(self.latest(Signal::Resident)),
            requests_so_far,
        }
    }
}

fn ended_words(ended: &Ended) -> String {
    match ended {
        Ended::Vanished { pid } => format!("the service (pid {pid}) exited"),
        Ended::Exited { code: Some(code) } => format!("the service exited with code {code}"),
        Ended::Exited { code: None } => "the service was killed by a signal".to_string(),
    }
}

/// Memory at one phase boundary: the live heap after the GC a capture forces, when the
/// runtime printed it, and the process's anonymous memory.
#[derive(Clone, Debug, Default)]
struct Boundary {
    label: String,
    gc_live: Option<u64>,
    anonymous: Option<u64>,
    requests_so_far: u64,
}

/// Everything the run produced so far: kept when something fails midway.
#[derive(Default)]
struct Collected {
    phases: Vec<(String, Value)>,
    boundaries: Vec<Boundary>,
    snapshots: Vec<PathBuf>,
    warnings: Vec<String>,
    requests: u64,
    errors: u64,
}

/// Runs the whole scenario and returns the run document (also written to `out_dir/run.json`).
pub fn execute(config: &ReproConfig, stop: &AtomicBool) -> anyhow::Result<Value> {
    let (port, command) = match config.pid {
        None => {
            let port = free_port()?;
            let command: Vec<String> = config.command.iter().map(|a| substitute(a, port)).collect();
            (port, command)
        }
        Some(pid) => attached(config, pid)?,
    };
    // A bad URL, a remote address or a broken requests file is refused before anything starts.
    if config.load_cmd.is_none() {
        plan_for(config, port, 1, None)?.validate()?;
    }
    let runtime = config.runtime.unwrap_or(if config.pprof_url.is_some() {
        Runtime::Pprof
    } else {
        Runtime::from_command(&command[0])
    });
    std::fs::create_dir_all(&config.out_dir).with_context(|| {
        format!(
            "cannot create the run directory {}",
            config.out_dir.display()
        )
    })?;
    let snapshot_dir = config.out_dir.join("snapshots");
    std::fs::create_dir_all(&snapshot_dir)
        .with_context(|| format!("cannot create {}", snapshot_dir.display()))?;
    set_private(&snapshot_dir);

    let mut env = vec![("PORT".to_string(), port.to_string())];
    match runtime {
        Runtime::Node => {
            // Port 0: node picks a free one and prints it; loopback only.
            let old = std::env::var("NODE_OPTIONS").unwrap_or_default();
            env.push((
                "NODE_OPTIONS".to_string(),
                format!("{old} --inspect=127.0.0.1:0").trim().to_string(),
            ));
        }
        Runtime::Python => {
            // The helper's directory holds its sitecustomize.py and the snapshots it writes.
            env.extend(
                capture::python_capture_env(&config.out_dir.join(PYTHON_DIR))
                    .context("cannot prepare the tracemalloc helper")?,
            );
        }
        _ => {}
    }

    let target = match config.pid {
        Some(pid) => {
            if runtime == Runtime::Python {
                bail!(
                    "pid {pid} is a Python process: tracemalloc must be started with it; let \
                     plateau start the service (plateau repro ... -- python3 app.py), or use \
                     --runtime none for memory readings only"
                );
            }
            Target::Pid(pid)
        }
        None => Target::Command {
            program: command[0].clone(),
            args: command[1..].to_vec(),
            restarts: 0,
            gc_trace: true,
            env,
        },
    };
    let options = SamplerOptions {
        interval: config.interval,
        ..SamplerOptions::default()
    };
    let sampler = Sampler::start(target, options).with_context(|| match config.pid {
        Some(pid) => format!("cannot watch pid {pid}"),
        None => format!("cannot start `{}`", command.join(" ")),
    })?;
    let mut watched = Watched {
        sampler,
        series: MemorySeries::new(),
        records: Vec::new(),
        tail: VecDeque::new(),
        inspector: None,
        wall_start: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        started: Instant::now(),
        interval: config.interval,
        ended: None,
    };
    let mut collected = Collected::default();
    let outcome = phases(config, runtime, port, &mut watched, &mut collected, stop);
    let pid = watched.sampler.pid();
    drop(watched.sampler);
    let failure = outcome.err();
    finish(
        config,
        runtime,
        port,
        &command,
        pid,
        &watched.series,
        &watched.records,
        collected,
        failure,
    )
}

/// A running service: its port from `--url` (which cannot have `{port}`) and its command line.
fn attached(config: &ReproConfig, pid: u32) -> anyhow::Result<(u16, Vec<String>)> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .with_context(|| format!("no process {pid} to attach to (/proc/{pid}/cmdline)"))?;
    let command: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if command.is_empty() {
        bail!("pid {pid} has no command line (a kernel thread or a zombie?)");
    }
    let port = match &config.url {
        Some(url) if url.contains("{port}") => bail!(
            "with --pid, give the service's own address in --url (no {{port}}: plateau does not pick it)"
        ),
        Some(url) => plateau_load::Url::parse(url)?.port,
        None => 0,
    };
    Ok((port, command))
}

/// Heap dumps hold secrets: the snapshot directory is the user's alone.
fn set_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
}

fn progress_line(config: &ReproConfig, text: &str) {
    if config.show_progress {
        eprintln!("plateau repro: {text}");
    }
}

fn phases(
    config: &ReproConfig,
    runtime: Runtime,
    port: u16,
    watched: &mut Watched,
    collected: &mut Collected,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    progress_line(config, &format!("started, waiting for 127.0.0.1:{port}"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let ready = port == 0
        || watched.wait_for(config.ready_timeout, stop, |_| {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        })?;
    if !ready {
        bail!(
            "the service did not open 127.0.0.1:{port} within {:?} (does it listen on $PORT?){}",
            config.ready_timeout,
            watched.tail_text()
        );
    }
    if let Some(health) = &config.health {
        let plan = plan_for(config, port, 1, Some(health))?;
        let report = run_load(watched, &plan, stop)?;
        if !report.statuses.keys().any(|s| (200..300).contains(s)) {
            bail!(
                "the health check GET {health} did not answer 2xx (statuses: {:?}){}",
                report.statuses,
                watched.tail_text()
            );
        }
    }
    if let (Runtime::Node, Some(pid)) = (runtime, config.pid) {
        // A running node opens its inspector on 127.0.0.1:9229 on SIGUSR1.
        progress_line(
            config,
            &format!("SIGUSR1 to pid {pid}: opening its inspector"),
        );
        watched.inspector = Some(
            capture::enable_inspector_by_signal(pid, config.capture_timeout)
                .with_context(|| format!("cannot open the inspector of pid {pid}"))?,
        );
    }
    if runtime == Runtime::Node {
        let found = watched.wait_for(Duration::from_secs(5), stop, |w| w.inspector.is_some())?;
        if !found {
            bail!(
                "node did not print its inspector address within 5 s (is NODE_OPTIONS honoured, \
                 or the command not node? --runtime none runs without snapshots){}",
                watched.tail_text()
            );
        }
    }

    let phase_count = config.rounds as usize + 1;
    for k in 0..phase_count {
        let (name, count) = if k == 0 {
            ("warm-up".to_string(), config.warmup)
        } else {
            (format!("round {k}"), config.requests)
        };
        if count > 0 || config.load_cmd.is_some() {
            progress_line(config, &format!("{name}: {count} requests"));
            let phase = load_phase(config, port, count, watched, stop)?;
            collected.requests += phase.0;
            collected.errors += phase.1;
            collected.phases.push((name.clone(), phase.2));
        }
        let label = if k == 0 {
            "after warm-up".to_string()
        } else {
            format!("after round {k}")
        };
        let capture_started = watched.now();
        // A failed capture ends the run: the verdict would miss its evidence. What was
        // collected so far is kept.
        if let Some(path) = take_snapshot(config, runtime, port, k, watched, stop)
            .with_context(|| format!("the snapshot {label} failed"))?
        {
            collected.snapshots.push(path);
        }

        watched.tick()?;
        collected
            .boundaries
            .push(watched.boundary(label, capture_started, collected.requests));
    }
    progress_line(config, &format!("cool-down: {:?} idle", config.cooldown));
    watched.wait_for(config.cooldown, stop, |_| false)?;
    let capture_started = watched.now();
    // A last collection so the floor is measured, not the garbage: the snapshot does it.
    if matches!(runtime, Runtime::Node | Runtime::Java) {
        take_snapshot(config, runtime, port, phase_count, watched, stop)
            .context("the snapshot after the cool-down failed")?;
    }
    watched.tick()?;
    collected.boundaries.push(watched.boundary(
        "after cool-down".to_string(),
        capture_started,
        collected.requests,
    ));
    Ok(())
}

fn plan_for(
    config: &ReproConfig,
    port: u16,
    count: u64,
    path: Option<&str>,
) -> anyhow::Result<LoadPlan> {
    let url = config
        .url
        .as_deref()
        .map(|u| substitute(u, port))
        .unwrap_or_else(|| format!("http://127.0.0.1:{port}/"));
    let mut plan = LoadPlan::from_url(&url, config.allow_remote)?;
    if let Some(path) = path {
        plan.requests = vec![RequestSpec::get(path)];
    } else if let Some(file) = &config.requests_file {
        plan.requests = plateau_load::read_requests_file(file)?;
    }
    plan.connections = config.connections.max(1);
    plan.rate = config.rate;
    plan.max_requests = Some(count);
    plan.max_duration = Some(config.phase_timeout);
    Ok(plan)
}

/// Sends `count` requests (or runs the load command) while the memory is watched. Returns
/// requests, errors and the phase's JSON.
fn load_phase(
    config: &ReproConfig,
    port: u16,
    count: u64,
    watched: &mut Watched,
    stop: &AtomicBool,
) -> anyhow::Result<(u64, u64, Value)> {
    if let Some(cmd) = &config.load_cmd {
        let cmd = substitute(cmd, port);
        let env = vec![("PORT".to_string(), port.to_string())];
        let cancel = Arc::new(AtomicBool::new(false));
        let worker = {
            let cancel = cancel.clone();
            let timeout = config.phase_timeout;
            std::thread::spawn(move || plateau_load::run_command(&cmd, &env, timeout, &cancel))
        };
        let result = watch_while(watched, &worker, &cancel, stop);
        let report = worker.join().expect("the load thread does not panic")?;
        result?;
        let json = json!({
            "command": substitute(config.load_cmd.as_deref().unwrap_or(""), port),
            "exit_code": report.status.code(),
            "duration_s": report.duration.as_secs_f64(),
            "last_output_lines": report.last_output_lines,
        });
        return Ok((0, 0, json));
    }
    let plan = plan_for(config, port, count, None)?;
    let report = run_load(watched, &plan, stop)?;
    let errors = report.requests_sent.saturating_sub(report.responses)
        + report
            .statuses
            .iter()
            .filter(|(s, _)| **s >= 400)
            .map(|(_, n)| n)
            .sum::<u64>();
    Ok((report.requests_sent, errors, load_json(&report)))
}

fn run_load(
    watched: &mut Watched,
    plan: &LoadPlan,
    stop: &AtomicBool,
) -> anyhow::Result<LoadReport> {
    let cancel = Arc::new(AtomicBool::new(false));
    let worker = {
        let cancel = cancel.clone();
        let plan = plan.clone();
        std::thread::spawn(move || plateau_load::run(&plan, &cancel, &mut |_| {}))
    };
    let watching = watch_while(watched, &worker, &cancel, stop);
    let report = worker.join().expect("the load thread does not panic");
    watching?;
    Ok(report?)
}

/// Ticks the sampler until `worker` ends; cancels the load when the service dies or the user
/// interrupts.
fn watch_while<T>(
    watched: &mut Watched,
    worker: &std::thread::JoinHandle<T>,
    cancel: &AtomicBool,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    while !worker.is_finished() {
        if let Err(e) = watched.tick() {
            cancel.store(true, Ordering::SeqCst);
            return Err(e);
        }
        if stop.load(Ordering::SeqCst) {
            cancel.store(true, Ordering::SeqCst);
            bail!("interrupted");
        }
        std::thread::sleep(watched.interval.min(Duration::from_millis(200)));
    }
    Ok(())
}

fn load_json(r: &LoadReport) -> Value {
    let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
    json!({
        "requests": r.requests_sent,
        "responses": r.responses,
        "errors": r.requests_sent.saturating_sub(r.responses),
        "statuses": r.statuses.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "duration_s": r.duration.as_secs_f64(),
        "rps": (r.rps * 10.0).round() / 10.0,
        "latency_ms": {
            "p50": ms(r.latency.p50),
            "p90": ms(r.latency.p90),
            "p99": ms(r.latency.p99),
            "max": ms(r.latency.max),
        },
    })
}

/// Takes snapshot `k` of the service; `None` when the runtime has no capture.
fn take_snapshot(
    config: &ReproConfig,
    runtime: Runtime,
    port: u16,
    k: usize,
    watched: &mut Watched,
    stop: &AtomicBool,
) -> anyhow::Result<Option<PathBuf>> {
    if stop.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    let dir = config.out_dir.join("snapshots");
    let path = dir.join(format!("s{k}.{}", runtime.snapshot_suffix()));
    let timeout = config.capture_timeout;
    let pid = watched.sampler.pid();
    let result: Result<PathBuf, CaptureError> = match runtime {
        Runtime::None => return Ok(None),
        Runtime::Node => {
            let Some(url) = watched.inspector.clone() else {
                bail!("no inspector address");
            };
            progress_line(config, &format!("heap snapshot {}", path.display()));
            capture::capture_node(&url, &path, timeout, |_, _| {}).map(|r| r.path)
        }
        Runtime::Java => {
            let Some(pid) = pid else {
                bail!("no pid to attach to");
            };
            progress_line(
                config,
                &format!("jcmd {pid} GC.heap_dump {}", path.display()),
            );
            capture::capture_java(pid, &path, timeout).map(|r| r.path)
        }
        Runtime::Python => {
            let Some(pid) = pid else {
                bail!("no pid to signal");
            };
            let dir = config.out_dir.join(PYTHON_DIR);
            let k = capture::next_python_snapshot(&dir);
            progress_line(config, &format!("tracemalloc snapshot {k} of pid {pid}"));
            capture::capture_python(pid, &dir, k, timeout)
        }
        Runtime::Pprof => {
            let Some(url) = &config.pprof_url else {
                bail!("--pprof-url is needed to fetch heap profiles");
            };
            let url = substitute(url, port);
            progress_line(config, &format!("GET {url}"));
            capture::capture_pprof(&url, &path, timeout).map(|r| r.path)
        }
    };
    // Readings continue right after; the capture's own pause shows in the series.
    watched.tick()?;
    Ok(Some(result?))
}

#[allow(clippy::too_many_arguments)]
fn finish(
    config: &ReproConfig,
    runtime: Runtime,
    port: u16,
    command: &[String],
    pid: Option<u32>,
    series: &MemorySeries,
    records: &[Record],
    mut collected: Collected,
    failure: Option<anyhow::Error>,
) -> anyhow::Result<Value> {
    let mut warnings = std::mem::take(&mut collected.warnings);
    // The memory series, readable by `plateau classify`.
    let series_file = config.out_dir.join("memory.series");
    let _ = std::fs::remove_file(&series_file);
    let header = StoreHeader {
        target: format!(
            "{} (pid {})",
            command.join(" "),
            pid.map_or("-".into(), |p| p.to_string())
        ),
        started: records.first().map_or(0.0, |r| r.t),
    };
    let written = SeriesWriter::open(&series_file, &header).and_then(|(mut w, _)| {
        records.iter().try_for_each(|r| w.append(r))?;
        w.sync()
    });
    if let Err(e) = written {
        warnings.push(format!("cannot save the memory series: {e}"));
    }
    // The diff of the snapshots after the warm-up and after each round.
    let diffed: Vec<PathBuf> = collected
        .snapshots
        .iter()
        .take(config.rounds as usize + 1)
        .cloned()
        .collect();
    let mut suspects = Value::Array(Vec::new());
    let mut diff_doc = Value::Null;
    if diffed.len() >= 2 && failure.is_none() {
        match snapshot_diff(config, runtime, &diffed) {
            Ok(doc) => {
                suspects = doc["suspects"].clone();
                diff_doc = doc;
            }
            Err(e) => warnings.push(format!("the snapshot diff failed: {e:#}")),
        }
    }
    let classification = classify(series, &ClassifyOptions::default());
    let memory = memory_json(&collected.boundaries, &classification, config);

    let (verdict, reason) = verdict(
        &collected,
        &memory,
        &suspects,
        &classification,
        failure.as_ref(),
        diffed.len(),
    );
    let doc = json!({
        "schema_version": plateau_report::SCHEMA_VERSION,
        "tool": format!("plateau {}", env!("CARGO_PKG_VERSION")),
        "name": config.name,
        "verdict": verdict,
        "reason": reason,
        "command": command,
        "port": port,
        "runtime": runtime.as_str(),
        "out_dir": config.out_dir.display().to_string(),
        "memory": memory,
        "load": collected.phases.iter().map(|(name, v)| json!({"phase": name, "report": v})).collect::<Vec<_>>(),
        "series": series_file.display().to_string(),
        "snapshots": collected.snapshots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "suspects": suspects,
        "diff": diff_doc,
        "error": failure.as_ref().map(|e| format!("{e:#}")),
        "warnings": warnings,
    });
    let run_file = config.out_dir.join("run.json");
    std::fs::write(&run_file, serde_json::to_vec_pretty(&doc)?)
        .with_context(|| format!("cannot write {}", run_file.display()))?;
    if let Some(e) = failure {
        // Partial results are on disk; the error is the answer.
        return Err(e.context(format!(
            "the run stopped early; what was collected is in {}",
            run_file.display()
        )));
    }
    Ok(doc)
}

fn snapshot_diff(
    config: &ReproConfig,
    runtime: Runtime,
    files: &[PathBuf],
) -> anyhow::Result<Value> {
    match runtime {
        Runtime::Python | Runtime::Pprof => {
            let options = plateau_analysis::alloc::AllocDiffOptions {
                min_growth_bytes: config.min_growth,
                ..Default::default()
            };
            let (report, _) =
                super::profile::diff_profile_files(files, None, options, config.show_progress)?;
            Ok(plateau_report::alloc_diff_json(&report))
        }
        _ => {
            let options = DiffOptions {
                min_growth_bytes: config.min_growth,
                ..DiffOptions::default()
            };
            let report = super::diff::diff_heaps(files, &options, config.show_progress)?;
            Ok(plateau_report::diff_json(&report))
        }
    }
}

/// The memory at each boundary by the best signal all of them have.
fn boundary_values(boundaries: &[Boundary]) -> (Option<&'static str>, Vec<u64>) {
    if !boundaries.is_empty() && boundaries.iter().all(|b| b.gc_live.is_some()) {
        return (
            Some("gc_live"),
            boundaries.iter().map(|b| b.gc_live.unwrap_or(0)).collect(),
        );
    }
    if !boundaries.is_empty() && boundaries.iter().all(|b| b.anonymous.is_some()) {
        return (
            Some("anonymous"),
            boundaries
                .iter()
                .map(|b| b.anonymous.unwrap_or(0))
                .collect(),
        );
    }
    (None, Vec::new())
}

fn memory_json(
    boundaries: &[Boundary],
    classification: &plateau_analysis::series::Classification,
    config: &ReproConfig,
) -> Value {
    let (signal, values) = boundary_values(boundaries);
    let rounds = config.rounds as usize;
    let mut out = json!({
        "classification": {
            "verdict": classification.verdict.key(),
            "slope_bytes_per_s": classification.slope_bytes_per_s,
            "floor_bytes": classification.floor_bytes,
            "peak_bytes": classification.peak_bytes,
            "evidence": classification.evidence,
        },
        "signal": signal,
        "boundaries": boundaries.iter().zip(values.iter().map(Some).chain(std::iter::repeat(None))).map(|(b, v)| json!({
            "at": b.label,
            "bytes": v,
            "gc_live": b.gc_live,
            "anonymous": b.anonymous,
            "requests": b.requests_so_far,
        })).collect::<Vec<_>>(),
    });
    if values.len() >= rounds + 2 && rounds > 0 {
        let baseline = values[0] as i64;
        let after_rounds = values[rounds] as i64;
        let after_cooldown = values[rounds + 1] as i64;
        let requests = boundaries[rounds].requests_so_far - boundaries[0].requests_so_far;
        let growth = after_rounds - baseline;
        out["baseline_bytes"] = json!(baseline);
        out["after_rounds_bytes"] = json!(after_rounds);
        out["after_cooldown_bytes"] = json!(after_cooldown);
        out["growth_per_round_bytes"] = json!(growth / rounds as i64);
        out["bytes_per_request"] = json!(if requests > 0 {
            Some(growth as f64 / requests as f64)
        } else {
            None
        });
        let tolerance = noise_floor(baseline as u64, config.min_growth) as i64;
        out["returned_to_baseline"] = json!(after_cooldown - baseline <= tolerance.max(growth / 5));
    }
    out
}

/// Growth below this is noise: 1 MiB or 3% of the baseline, at least `min_growth`.
fn noise_floor(baseline: u64, min_growth: u64) -> u64 {
    (1u64 << 20).max(baseline * 3 / 100).max(min_growth)
}

fn verdict(
    collected: &Collected,
    memory: &Value,
    suspects: &Value,
    classification: &plateau_analysis::series::Classification,
    failure: Option<&anyhow::Error>,
    snapshots: usize,
) -> (&'static str, String) {
    let (requests, errors) = (collected.requests, collected.errors);
    if let Some(e) = failure {
        return ("inconclusive", format!("the run stopped early: {e:#}"));
    }
    if requests > 0 && errors * 2 > requests {
        return (
            "inconclusive",
            format!("{errors} of {requests} requests failed: the service was not under the intended load"),
        );
    }
    if let Some(first) = suspects.as_array().and_then(|s| s.first()) {
        return (
            "leak",
            format!(
                "{} in the snapshots: {} grows {}/round",
                first["pattern"].as_str().unwrap_or("growth"),
                short_path(
                    first["path"]
                        .as_str()
                        .or(first["class"].as_str())
                        .unwrap_or("?")
                ),
                format_bytes(first["growth_per_round_bytes"].as_i64().unwrap_or(0).max(0) as u64)
            ),
        );
    }
    let (_, values) = boundary_values(&collected.boundaries);
    let returned = memory["returned_to_baseline"].as_bool();
    let per_round = memory["growth_per_round_bytes"].as_i64();
    if let (Some(returned), Some(per_round)) = (returned, per_round) {
        let rounds = values.len().saturating_sub(2);
        let baseline = values.first().copied().unwrap_or(0);
        let floor = noise_floor(baseline, 0) as i64;
        let every_round = values[..=rounds].windows(2).all(|w| w[1] > w[0]);
        if every_round && per_round > floor && !returned {
            return (
                "leak",
                format!(
                    "memory grew in every round ({}/round) and did not come back after the cool-down{}",
                    format_bytes(per_round as u64),
                    if snapshots >= 2 { "; the snapshots name no suspect" } else { "" }
                ),
            );
        }
        return (
            "no-leak",
            if returned {
                "memory came back to its baseline after the cool-down and no snapshot suspect grew"
                    .to_string()
            } else {
                "memory did not grow in every round and no snapshot suspect grew".to_string()
            },
        );
    }
    if classification.verdict == Verdict::Leak {
        return (
            "leak",
            format!("the memory series: {}", classification.evidence.join("; ")),
        );
    }
    if snapshots < 2 {
        return (
            "inconclusive",
            "too few readings at the phase boundaries and no snapshots to diff".to_string(),
        );
    }
    ("no-leak", "no snapshot suspect grew".to_string())
}

/// The last steps of a retainer path (where the memory is held), for one-line reasons.
pub fn short_path(path: &str) -> String {
    const SHOWN: usize = 5;
    let steps: Vec<&str> = path.split(" > ").collect();
    if steps.len() <= SHOWN {
        return path.to_string();
    }
    format!("… > {}", steps[steps.len() - SHOWN..].join(" > "))
}

/// The terminal report of a run.
pub fn run_text(doc: &Value) -> String {
    let mut out = String::new();
    let verdict = doc["verdict"].as_str().unwrap_or("?").to_uppercase();
    out.push_str(&format!(
        "{verdict}  {}\n",
        doc["reason"].as_str().unwrap_or("")
    ));
    let memory = &doc["memory"];
    if let Some(b) = memory["boundaries"].as_array() {
        let signal = memory["signal"].as_str().unwrap_or("-");
        out.push_str(&format!("\nmemory ({signal}):\n"));
        for row in b {
            out.push_str(&format!(
                "  {:<18} {:>10}   after {} requests\n",
                row["at"].as_str().unwrap_or(""),
                row["bytes"].as_u64().map_or("-".to_string(), format_bytes),
                row["requests"]
            ));
        }
    }
    if let Some(bpr) = memory["bytes_per_request"].as_f64() {
        out.push_str(&format!(
            "  growth {}/round, {:.0} B per request; back to baseline after the cool-down: {}\n",
            format_bytes(
                memory["growth_per_round_bytes"]
                    .as_i64()
                    .unwrap_or(0)
                    .max(0) as u64
            ),
            bpr,
            if memory["returned_to_baseline"] == true {
                "yes"
            } else {
                "no"
            }
        ));
    }
    if let Some(phases) = doc["load"].as_array() {
        out.push_str("\nload:\n");
        for p in phases {
            let r = &p["report"];
            if r["requests"].is_null() {
                out.push_str(&format!(
                    "  {:<10} load command exited with {}\n",
                    p["phase"].as_str().unwrap_or(""),
                    r["exit_code"]
                ));
                continue;
            }
            out.push_str(&format!(
                "  {:<10} {:>7} requests  {:>5} errors  {:>8} req/s  p50 {} ms  p99 {} ms\n",
                p["phase"].as_str().unwrap_or(""),
                r["requests"],
                r["errors"],
                r["rps"],
                r["latency_ms"]["p50"],
                r["latency_ms"]["p99"]
            ));
        }
    }
    if let Some(s) = doc["suspects"].as_array().filter(|s| !s.is_empty()) {
        out.push_str("\nsuspects (from the snapshot diff):\n");
        for (i, s) in s.iter().enumerate() {
            out.push_str(&format!(
                "  #{} {}  {}  {}/round\n     {}\n     fix: {}\n",
                i + 1,
                s["pattern"].as_str().unwrap_or(""),
                s["class"].as_str().unwrap_or(""),
                format_bytes(s["growth_per_round_bytes"].as_i64().unwrap_or(0).max(0) as u64),
                short_path(s["path"].as_str().unwrap_or("")),
                s["fix"].as_str().unwrap_or("")
            ));
        }
    }
    if let Some(snaps) = doc["snapshots"].as_array().filter(|s| !s.is_empty()) {
        out.push_str(&format!("\nsnapshots: {}\n", snaps.len()));
    }
    out.push_str(&format!(
        "run saved in {}/run.json (compare it after the fix: plateau compare BEFORE AFTER)\n",
        doc["out_dir"].as_str().unwrap_or("")
    ));
    for w in doc["warnings"].as_array().into_iter().flatten() {
        out.push_str(&format!("warning: {}\n", w.as_str().unwrap_or("")));
    }
    out
}
