use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Find memory leaks: tell a leak from high-but-stable use, name what holds the memory, and
/// prove the fix plateaus.
#[derive(Parser, Debug)]
#[command(name = "plateau", version, about, max_term_width = 100)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// What holds the memory in one heap snapshot (V8, HPROF): totals, classes, top retainers
    /// with their paths from the GC roots, largest collections, duplicate strings; for a
    /// tracemalloc dump or a pprof profile, the top allocation sites.
    Analyze(AnalyzeArgs),
    /// Leak suspects from snapshots of one process taken over time: what grows, where it is
    /// held, how fast, which leak pattern it is and the usual fix (allocation profiles: the
    /// sites that grow, tracemalloc's compare_to / pprof -base). Exit 1 when a suspect is found.
    Diff(DiffArgs),
    /// The verdict on a memory series: leak, plateau (high but stable), warm-up, allocator
    /// retention, stable. Reads a `plateau watch` recording or a CSV `timestamp,bytes`.
    /// Exit 1 on a leak.
    Classify(ClassifyArgs),
    /// Watches memory live and gives the verdict: a process (--pid), a cgroup, a Prometheus
    /// endpoint (--metrics), or a command plateau starts (-- CMD ARGS). Records with --out.
    /// Exit 1 when the final verdict is a leak.
    Watch(WatchArgs),
    /// Starts a service, loads it in rounds on 127.0.0.1, watches its memory and takes heap
    /// snapshots between the rounds without code changes (Node inspector, jcmd, tracemalloc,
    /// pprof), then gives one verdict with the leak named. Exit 1 on a leak.
    Repro(ReproArgs),
    /// `repro` as a CI gate: scenarios and thresholds from a plateau.toml (or the `repro`
    /// options and a command). Exit 1 on a leak or a threshold passed; --junit for CI.
    Check(CheckArgs),
    /// Two saved `repro` runs side by side (before and after a fix): growth, bytes per
    /// request, the floor after the cool-down, suspects gone or remaining. Exit 1 if the run
    /// after the fix still leaks.
    Compare(CompareArgs),
    /// Runs plateau on bundled real examples: recorded series, Node and Java snapshots, then the
    /// whole loop live (a leaking Node service reproduced and named, its fix shown to plateau).
    Demo(DemoArgs),
}

/// What one allocation site is, for tracemalloc dumps and pprof profiles.
#[derive(clap::ValueEnum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SiteBy {
    /// The allocating line (tracemalloc's `lineno`).
    Lineno,
    /// The allocating file.
    Filename,
    /// The allocating function (pprof's default).
    Function,
    /// The whole stack.
    Traceback,
}

/// Options that apply to allocation profiles (tracemalloc, pprof) only.
#[derive(clap::Args, Debug)]
pub struct SiteArgs {
    /// Allocation profiles: group sites by line, file, function or whole stack (default:
    /// lineno for tracemalloc, function for pprof).
    #[arg(long, value_enum, value_name = "KEY")]
    pub by: Option<SiteBy>,
    /// Allocation profiles: the value to measure (pprof `inuse_space`, `alloc_space`,
    /// `inuse_objects`...; default: the profile's default, `inuse_space` for Go heaps).
    #[arg(long, value_name = "TYPE")]
    pub sample_index: Option<String>,
}

impl SiteArgs {
    /// Heap snapshots have objects, not allocation sites: an option for sites is a mistake.
    pub fn refuse_for_heaps(&self) -> anyhow::Result<()> {
        if self.by.is_some() || self.sample_index.is_some() {
            anyhow::bail!(
                "--by and --sample-index apply to allocation profiles (tracemalloc, pprof), not heap snapshots"
            );
        }
        Ok(())
    }
}

#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// A V8 `.heapsnapshot` (Node.js, Chrome), a Java `.hprof`, a Python tracemalloc dump or a
    /// pprof heap profile; gzipped or not.
    pub file: PathBuf,
    #[command(flatten)]
    pub sites: SiteArgs,
    /// Rows per list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print one JSON document (schema_version 1) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Mask string contents and data-like property names (heap dumps hold secrets).
    #[arg(long)]
    pub redact: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// Snapshots or profiles, oldest first (baseline, after round 1, ...), or one directory of
    /// them. Allocation profiles (tracemalloc, pprof) are compared site by site.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub sites: SiteArgs,
    /// Allocation profiles: add each site's total to every frame of its stack (tracemalloc's
    /// `cumulative=True`, pprof's cum column).
    #[arg(long)]
    pub cumulative: bool,
    /// Allocation profiles: write a flame graph (SVG) of the growth, first profile to last.
    #[arg(long, value_name = "FILE")]
    pub flamegraph: Option<PathBuf>,
    /// Rows in the stable and growing-class lists.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print one JSON document (schema_version 1) instead of the report.
    #[arg(long)]
    pub json: bool,
    /// Accept known leaks: a previous `plateau diff --json` output, or fingerprints one per line.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// A suspect grows by at least this many bytes per round.
    #[arg(long, value_name = "BYTES", default_value_t = 8192)]
    pub min_growth: u64,
    /// Mask string contents and data-like property names.
    #[arg(long)]
    pub redact: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(clap::Args, Debug)]
pub struct ReproArgs {
    /// The URL to load; `{port}` is replaced by the free loopback port plateau picks (also
    /// in the command's arguments and exported as PORT).
    #[arg(long)]
    pub url: Option<String>,
    /// Requests to send, in turn (`METHOD /path`, headers, blank line, body, `###`); the
    /// address comes from --url (default http://127.0.0.1:{port}/).
    #[arg(long, value_name = "FILE")]
    pub requests_file: Option<PathBuf>,
    /// Drive the load with an external tool instead, once per phase (`{port}` replaced), e.g.
    /// 'wrk -t1 -c8 -d10s http://127.0.0.1:{port}/'.
    #[arg(long, value_name = "CMD")]
    pub load_cmd: Option<String>,
    /// Requests before the baseline snapshot.
    #[arg(long, default_value_t = 500)]
    pub warmup: u64,
    /// Load rounds, each followed by a snapshot.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Requests per round.
    #[arg(long, default_value_t = 2000)]
    pub requests: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Constant request rate (per second) instead of as fast as the service answers.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Longest a phase's load may run.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub phase_timeout: std::time::Duration,
    /// Idle time after the last round, to see whether memory comes back.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub cooldown: std::time::Duration,
    /// How long the service may take to open its port.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub ready_timeout: std::time::Duration,
    /// A path that must answer 2xx before the load starts, e.g. /health.
    #[arg(long, value_name = "PATH")]
    pub health: Option<String>,
    /// How to take snapshots (default: from the command: node, java, python).
    #[arg(long, value_enum)]
    pub runtime: Option<crate::commands::Runtime>,
    /// Go / Rust services: the heap profile URL, e.g. http://127.0.0.1:{port}/debug/pprof/heap?gc=1.
    #[arg(long, value_name = "URL")]
    pub pprof_url: Option<String>,
    /// Longest one snapshot may take.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub capture_timeout: std::time::Duration,
    /// The run directory (snapshots, memory.series, run.json); default plateau-run-<time>.
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Time between memory readings.
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// Allow a --url that is not loopback.
    #[arg(long)]
    pub allow_remote: bool,
    /// A snapshot suspect grows by at least this many bytes per round.
    #[arg(long, value_name = "BYTES", default_value_t = 8192)]
    pub min_growth: u64,
    /// Print the run document (JSON) instead of the report.
    #[arg(long)]
    pub json: bool,
    /// No progress lines on stderr.
    #[arg(long)]
    pub no_progress: bool,
    /// Attach to a running service instead of starting one (left running afterwards); --url
    /// then gives its real address. Node: its inspector is opened with SIGUSR1; Java: jcmd.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// The service's command.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Scenarios and thresholds (default ./plateau.toml when no command is given).
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write JUnit XML here (one test case per scenario).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Run only these scenarios of the config (repeatable).
    #[arg(long, value_name = "NAME")]
    pub scenario: Vec<String>,
    /// Fail when memory grows more than this per round, suspects or not (K/M/G accepted).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_growth_per_round: Option<u64>,
    /// Fail when memory grows more than this many bytes per request.
    #[arg(long, value_name = "BYTES")]
    pub max_bytes_per_request: Option<f64>,
    /// Fail when a run is inconclusive (too many failed requests, no readings).
    #[arg(long)]
    pub fail_on_inconclusive: bool,
    #[command(flatten)]
    pub repro: ReproArgs,
}

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The run before the fix: a `plateau repro --out` directory or its run.json.
    pub before: PathBuf,
    /// The run after the fix.
    pub after: PathBuf,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Rows per list.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
}

#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {
    /// A series recorded by `plateau watch --out`, or a CSV with the header `timestamp,bytes`
    /// (seconds, bytes; other signal columns such as `gc_live,rss` are read too).
    pub file: PathBuf,
    /// The memory limit for the time-to-limit (bytes; K/M/G and Ki/Mi/Gi suffixes accepted);
    /// overrides a limit recorded in the series.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub limit: Option<u64>,
    /// Print one JSON document (schema_version 1).
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// A running process (its cgroup is found and read too).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// A memory cgroup directory (v1 or v2), e.g. a container's.
    #[arg(long, value_name = "DIR")]
    pub cgroup: Option<PathBuf>,
    /// A Prometheus text endpoint, e.g. http://127.0.0.1:9100/metrics.
    #[arg(long, value_name = "URL")]
    pub metrics: Option<String>,
    /// A GC log to follow (Node --trace-gc, JVM -Xlog:gc, Go gctrace): post-GC live heap.
    #[arg(long, value_name = "FILE")]
    pub gc_log: Option<PathBuf>,
    /// Time between readings (e.g. 1s, 500ms, 30s).
    #[arg(long, short, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// Stop after this long (e.g. 10m, 2h); otherwise at Ctrl-C or when the target exits.
    #[arg(long, short, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Record the series here (appended; an existing recording is resumed).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The memory limit (bytes, K/M/G accepted); otherwise the cgroup's, else the host's.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub limit: Option<u64>,
    /// Restart the command this many times when it exits (following restarts).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub restarts: u32,
    /// Do not ask the command's runtime to print GC lines (`node --trace-gc` when the command
    /// is node, JAVA_TOOL_OPTIONS=-Xlog:gc, GODEBUG=gctrace=1).
    #[arg(long)]
    pub no_gc_trace: bool,
    /// Alert when a leak grows at least this much per hour (bytes, K/M/G accepted).
    #[arg(long, value_name = "BYTES_PER_HOUR", value_parser = parse_bytes)]
    pub alert_slope: Option<u64>,
    /// Alert when a leak reaches the limit within this time (e.g. 6h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub alert_tto: Option<std::time::Duration>,
    /// Run this shell command on each alert (env: PLATEAU_ALERT, PLATEAU_VERDICT,
    /// PLATEAU_SLOPE_BYTES_PER_S, PLATEAU_TIME_TO_LIMIT_S, PLATEAU_TARGET).
    #[arg(long, value_name = "CMD")]
    pub on_alert: Option<String>,
    /// JSON events on stdout, one per line (sample, verdict, alert, note, final).
    #[arg(long)]
    pub json: bool,
    /// The command to start and supervise.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `90`, `90s`, `500ms`, `5m`, `2h`, `1d`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (value, unit) = number_and_unit(text, "a duration (e.g. 500ms, 30s, 5m, 2h)")?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}` (use ms, s, m, h, d)"
            ))
        }
    };
    if seconds <= 0.0 || !seconds.is_finite() {
        return Err(format!("`{text}` must be positive"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// `2147483648`, `2G`, `2GiB`, `512Mi`, `1.5g`. Every suffix is 1024-based, as in
/// `docker --memory` (memory limits are set in binary units in practice).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (value, unit) = number_and_unit(text, "a byte count (e.g. 2147483648, 2G, 512Mi)")?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1u64,
        "k" | "ki" | "kib" | "kb" => 1 << 10,
        "m" | "mi" | "mib" | "mb" => 1 << 20,
        "g" | "gi" | "gib" | "gb" => 1 << 30,
        "t" | "ti" | "tib" | "tb" => 1 << 40,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}` (use K, M, G, T)"
            ))
        }
    };
    Ok((value * factor as f64).round() as u64)
}

/// `1.5g` -> `(1.5, "g")`.
fn number_and_unit<'a>(text: &'a str, what: &str) -> Result<(f64, &'a str), String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value = number
        .parse()
        .map_err(|_| format!("`{text}` is not {what}"))?;
    Ok((value, unit.trim()))
}
