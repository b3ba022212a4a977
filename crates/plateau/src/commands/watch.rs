use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use plateau_analysis::series::{classify, Classification, ClassifyOptions, MemorySeries, Verdict};
use plateau_analysis::{format_bytes, format_duration, format_rate};
use plateau_probe::sampler::{Ended, Sampler, SamplerOptions, Target};
use plateau_probe::store::{read_series_file, Record, SeriesWriter, StoreHeader};
use plateau_report::{classify_headline, classify_json, classify_text, SeriesSource};
use serde_json::json;

use crate::cli::WatchArgs;
use crate::Outcome;

/// Re-judging the series is cheap but grows with it: at most every 2 s, and never more than
/// 0.25% of the time (a day at 1 Hz is 86,400 readings a signal).
const CLASSIFY_EVERY: Duration = Duration::from_secs(2);
const CLASSIFY_SHARE: u32 = 400;

pub fn run(args: &WatchArgs) -> anyhow::Result<Outcome> {
    let target = target(args)?;
    let interval = args.interval;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // The child shares the terminal's process group and gets Ctrl-C too; plateau stops
        // sampling and gives its verdict.
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("cannot install the Ctrl-C handler")?;
    }
    let options = SamplerOptions {
        interval,
        gc_log: args.gc_log.clone(),
        ..SamplerOptions::default()
    };
    let mut sampler = Sampler::start(target, options)?;
    let label = sampler.describe();
    let mut view = View::new(args.json);
    for note in sampler.take_notes() {
        view.note(&note);
    }

    let mut series = MemorySeries::new();
    let mut writer = match &args.out {
        Some(path) => Some(open_store(path, &label, &mut series, &mut view)?),
        None => None,
    };
    let classify_options = ClassifyOptions {
        limit: args.limit,
        ..ClassifyOptions::default()
    };

    let wall_start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    // Times come from a monotonic clock anchored once: wall-clock jumps cannot reorder them.
    let started = Instant::now();
    let mut alerts = Alerts::new(args);
    let mut last_classified: Option<Instant> = None;
    let mut classify_gap = CLASSIFY_EVERY;
    let mut readings = 0usize;
    let mut ended = None;
    let mut problems_seen = HashSet::new();
    let mut last_sync = Instant::now();

    while !stop.load(Ordering::SeqCst) {
        let tick_started = Instant::now();
        let now = wall_start + started.elapsed().as_secs_f64();
        let tick = sampler.tick(now);
        for line in &tick.output {
            view.child_output(line);
        }
        for problem in tick.problems {
            if problems_seen.insert(problem.clone()) {
                view.note(&problem);
            }
        }
        for record in &tick.records {
            apply(record, &mut series);
            readings += record.values.len();
            if let Some(writer) = &mut writer {
                writer.append(record)?;
            }
            view.record(record);
        }
        if let Some(writer) = &writer {
            if last_sync.elapsed() > Duration::from_secs(30) {
                writer.sync()?;
                last_sync = Instant::now();
            }
        }
        if last_classified.is_none_or(|at| at.elapsed() >= classify_gap) {
            let classify_started = Instant::now();
            let c = classify(&series, &classify_options);
            classify_gap = CLASSIFY_EVERY.max(classify_started.elapsed() * CLASSIFY_SHARE);
            view.status(&c, &series, started.elapsed());
            alerts.check(&c, &label, &mut view);
            last_classified = Some(Instant::now());
        }
        if let Some(end) = tick.ended {
            ended = Some(end);
            break;
        }
        if args.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        sleep_until(tick_started + interval, &stop);
    }
    sampler.stop();
    if let Some(writer) = &writer {
        writer.sync()?;
    }
    view.finish_status();

    if series.is_empty() {
        anyhow::bail!(
            "no readings from {label}{}",
            ended.map_or(String::new(), |e| format!(" ({})", ended_words(&e)))
        );
    }
    let mut final_verdict = classify(&series, &classify_options);
    let mut warnings = Vec::new();
    if let Some(end) = &ended {
        warnings.push(format!(
            "watching stopped early: {}; the verdict covers the readings until then",
            ended_words(end)
        ));
    }
    let stats = sampler.gc_stats();
    if stats.unparseable > 0 {
        let first = stats.first_unparseable.as_ref().map_or(String::new(), |u| {
            format!(" (first: line {}: {})", u.line, u.reason)
        });
        warnings.push(format!(
            "{} GC line(s) could not be read and were skipped{first}",
            stats.unparseable
        ));
    }
    if let Some(writer) = &writer {
        warnings.push(format!("series saved to {}", writer.path().display()));
    }
    final_verdict.evidence.retain(|e| !e.is_empty());
    let source = SeriesSource {
        label: &label,
        readings,
        skipped: 0,
        warnings: &warnings,
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let mut doc = classify_json(&final_verdict, &source);
        doc["event"] = json!("final");
        doc["stopped_early"] = json!(ended.is_some());
        writeln!(stdout, "{doc}")?;
    } else {
        stdout.write_all(classify_text(&final_verdict, &source).as_bytes())?;
    }
    Ok(if final_verdict.verdict == Verdict::Leak {
        Outcome::LeakFound
    } else {
        Outcome::Fine
    })
}

fn target(args: &WatchArgs) -> anyhow::Result<Target> {
    let chosen = [
        args.pid.is_some(),
        args.cgroup.is_some(),
        args.metrics.is_some(),
        !args.command.is_empty(),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if chosen != 1 && !(chosen == 0 && args.gc_log.is_some()) {
        anyhow::bail!(
            "say what to watch, once: --pid PID, --cgroup DIR, --metrics URL, or -- COMMAND ARGS"
        );
    }
    Ok(if let Some(pid) = args.pid {
        Target::Pid(pid)
    } else if let Some(dir) = &args.cgroup {
        Target::Cgroup(dir.clone())
    } else if let Some(url) = &args.metrics {
        Target::Metrics(url.clone())
    } else if let Some((program, rest)) = args.command.split_first() {
        Target::Command {
            program: program.clone(),
            args: rest.to_vec(),
            restarts: args.restarts,
            gc_trace: !args.no_gc_trace,
            env: Vec::new(),
        }
    } else {
        Target::GcLogOnly
    })
}

/// Opens (or resumes) the store and loads what it already holds into `series`.
fn open_store(
    path: &Path,
    label: &str,
    series: &mut MemorySeries,
    view: &mut View,
) -> anyhow::Result<SeriesWriter> {
    if path.exists() && std::fs::metadata(path)?.len() > 0 {
        if let Ok(loaded) = read_series_file(path) {
            *series = loaded.series;
            view.note(&format!(
                "resuming {} ({} earlier readings)",
                path.display(),
                loaded.readings
            ));
        }
    }
    let header = StoreHeader {
        target: label.to_string(),
        started: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
    };
    let (writer, resumed) = SeriesWriter::open(path, &header)?;
    if let Some(resumed) = resumed {
        if resumed.cut_bytes > 0 {
            view.note(&format!(
                "cut a torn last line ({} bytes) left by an earlier run",
                resumed.cut_bytes
            ));
        }
    }
    Ok(writer)
}

fn apply(record: &Record, series: &mut MemorySeries) {
    for (signal, bytes) in &record.values {
        series.push(*signal, record.t, *bytes);
    }
    if let Some(limit) = record.limit {
        series.set_limit(record.t, limit);
    }
    if let Some(kind) = record.event {
        series.push_event(record.t, kind);
    }
}

fn ended_words(ended: &Ended) -> String {
    match ended {
        Ended::Vanished { pid } => format!("process {pid} exited"),
        Ended::Exited { code: Some(code) } => format!("the command exited with code {code}"),
        Ended::Exited { code: None } => "the command was killed by a signal".to_string(),
    }
}

fn sleep_until(deadline: Instant, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(100)));
    }
}

/// Alert thresholds; each alert fires once per episode and re-arms when it clears.
struct Alerts {
    slope_per_hour: Option<u64>,
    tto: Option<Duration>,
    command: Option<String>,
    firing: bool,
}

impl Alerts {
    fn new(args: &WatchArgs) -> Self {
        Alerts {
            slope_per_hour: args.alert_slope,
            tto: args.alert_tto,
            command: args.on_alert.clone(),
            firing: false,
        }
    }

    fn reason(&self, c: &Classification) -> Option<String> {
        if c.imminent_oom {
            return Some("OOM imminent".to_string());
        }
        if c.verdict != Verdict::Leak {
            return None;
        }
        let slope = c.slope_bytes_per_s.unwrap_or(0.0);
        if let Some(limit) = self.slope_per_hour {
            if slope * 3600.0 >= limit as f64 {
                return Some(format!(
                    "leak at {} (alert at {}/h)",
                    format_rate(slope),
                    format_bytes(limit)
                ));
            }
        }
        if let (Some(alert), Some(tto)) = (self.tto, c.time_to_limit_s) {
            if tto <= alert.as_secs_f64() {
                return Some(format!(
                    "limit reached in {} (alert under {})",
                    format_duration(tto),
                    format_duration(alert.as_secs_f64())
                ));
            }
        }
        // With only --on-alert given, any leak verdict alerts.
        (self.slope_per_hour.is_none() && self.tto.is_none() && self.command.is_some())
            .then(|| format!("leak at {}", format_rate(slope)))
    }

    fn check(&mut self, c: &Classification, label: &str, view: &mut View) {
        let reason = self.reason(c);
        match (reason, self.firing) {
            (Some(reason), false) => {
                self.firing = true;
                view.alert(&reason, c);
                if let Some(command) = &self.command {
                    run_alert_command(command, label, &reason, c, view);
                }
            }
            (None, true) => self.firing = false,
            _ => {}
        }
    }
}

fn run_alert_command(
    command: &str,
    label: &str,
    reason: &str,
    c: &Classification,
    view: &mut View,
) {
    let spawned = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("PLATEAU_TARGET", label)
        .env("PLATEAU_ALERT", reason)
        .env("PLATEAU_VERDICT", c.verdict.key())
        .env(
            "PLATEAU_SLOPE_BYTES_PER_S",
            format!("{:.0}", c.slope_bytes_per_s.unwrap_or(0.0)),
        )
        .env(
            "PLATEAU_TIME_TO_LIMIT_S",
            c.time_to_limit_s
                .map_or(String::new(), |t| format!("{t:.0}")),
        )
        .stdin(std::process::Stdio::null())
        .spawn();
    match spawned {
        // Reaped in the background: a slow hook must not stall sampling.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => view.note(&format!("cannot run the alert command: {e}")),
    }
}

/// The terminal view (a redrawn status line on a TTY, verdict changes otherwise) or JSON
/// events on stdout.
struct View {
    json: bool,
    tty: bool,
    status_shown: bool,
    last_verdict: Option<Verdict>,
}

impl View {
    fn new(json: bool) -> Self {
        View {
            json,
            tty: !json && std::io::stderr().is_terminal(),
            status_shown: false,
            last_verdict: None,
        }
    }

    fn clear_status(&mut self) {
        if self.status_shown {
            eprint!("\r\x1b[2K");
            self.status_shown = false;
        }
    }

    fn emit(&self, value: serde_json::Value) {
        println!("{value}");
    }

    fn note(&mut self, note: &str) {
        if self.json {
            self.emit(json!({"event": "note", "message": note}));
        } else {
            self.clear_status();
            eprintln!("plateau: {note}");
        }
    }

    fn child_output(&mut self, line: &str) {
        self.clear_status();
        eprintln!("{line}");
    }

    fn record(&mut self, record: &Record) {
        if !self.json {
            if let Some(kind) = record.event {
                let what = match kind {
                    plateau_analysis::series::EventKind::Restart => "restart",
                    plateau_analysis::series::EventKind::OomKill => "OOM kill",
                };
                self.note(&format!("{what} at t={:.0}", record.t));
            }
            return;
        }
        let values: serde_json::Map<String, serde_json::Value> = record
            .values
            .iter()
            .map(|(s, v)| (s.key().to_string(), json!(v)))
            .collect();
        let mut event = json!({"event": "sample", "t": record.t, "values": values});
        if let Some(limit) = record.limit {
            event["limit"] = json!(limit);
        }
        if let Some(kind) = record.event {
            event["event"] = json!(match kind {
                plateau_analysis::series::EventKind::Restart => "restart",
                plateau_analysis::series::EventKind::OomKill => "oom_kill",
            });
        }
        if let Some(pid) = record.pid {
            event["pid"] = json!(pid);
        }
        self.emit(event);
    }

    fn status(&mut self, c: &Classification, series: &MemorySeries, elapsed: Duration) {
        let changed = self.last_verdict != Some(c.verdict);
        self.last_verdict = Some(c.verdict);
        if self.json {
            if changed {
                self.emit(json!({
                    "event": "verdict",
                    "verdict": c.verdict.key(),
                    "confidence": c.confidence,
                    "slope_bytes_per_s": c.slope_bytes_per_s.filter(|s| s.is_finite()),
                    "time_to_limit_s": c.time_to_limit_s.filter(|s| s.is_finite()),
                }));
            }
            return;
        }
        let signal = c
            .signal
            .unwrap_or(plateau_analysis::series::Signal::Resident);
        let points = series.signal(signal);
        let current = points.last().map_or(0, |p| p.bytes);
        let mut line = format!(
            "{}  {} {}",
            format_duration(elapsed.as_secs_f64()),
            signal.key(),
            format_bytes(current)
        );
        if let Some(floor) = c.floor_bytes {
            line.push_str(&format!("  floor {}", format_bytes(floor)));
        }
        if let Some(slope) = c.slope_bytes_per_s {
            line.push_str(&format!("  {}", format_rate(slope)));
        }
        line.push_str(&format!("  {}", c.verdict.key()));
        if let Some(tto) = c.time_to_limit_s {
            line.push_str(&format!("  limit in {}", format_duration(tto)));
        }
        line.push_str(&format!("  {}", sparkline(points, 32)));
        if self.tty {
            self.clear_status();
            eprint!("{line}");
            let _ = std::io::stderr().flush();
            self.status_shown = true;
        } else if changed {
            eprintln!("{}", classify_headline(c));
        }
    }

    fn alert(&mut self, reason: &str, c: &Classification) {
        if self.json {
            self.emit(json!({"event": "alert", "reason": reason, "verdict": c.verdict.key()}));
        } else {
            self.clear_status();
            eprintln!("plateau: ALERT {reason}");
        }
    }

    fn finish_status(&mut self) {
        if self.status_shown {
            eprintln!();
            self.status_shown = false;
        }
    }
}

fn sparkline(points: &[plateau_analysis::series::Point], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let recent = &points[points.len().saturating_sub(width)..];
    let (min, max) = recent.iter().fold((u64::MAX, 0), |(lo, hi), p| {
        (lo.min(p.bytes), hi.max(p.bytes))
    });
    recent
        .iter()
        .map(|p| {
            let span = max.saturating_sub(min).max(1) as f64;
            BARS[(((p.bytes - min) as f64 / span) * 7.0).round() as usize]
        })
        .collect()
}
