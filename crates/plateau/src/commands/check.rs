//! `plateau check`: `repro` as a CI gate. Scenarios and thresholds come from a `plateau.toml`
//! (or from the command line, as for `repro`); the answer is an exit code (1 on a leak or a
//! threshold passed), a JSON document and, on request, JUnit XML for the CI's test view.
//!
//! ```toml
//! [defaults]                 # any scenario key; each scenario may override it
//! warmup = 500
//! rounds = 3
//! requests = 2000
//! cooldown = "5s"
//! max_growth_per_round = "1MiB"   # fail above this much memory growth per round
//! max_bytes_per_request = 256     # fail above this much growth per request
//! fail_on_inconclusive = false
//!
//! [[scenario]]
//! name = "sessions"
//! command = ["node", "server.js"]
//! url = "http://127.0.0.1:{port}/login"
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;
use serde_json::{json, Value};

use super::repro::{execute, install_stop_handler, ReproConfig, Runtime};
use crate::cli::{parse_bytes, parse_duration, CheckArgs};
use crate::Outcome;

/// A scenario as written in `plateau.toml` (every field optional; `[defaults]` fills in).
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
struct ScenarioToml {
    name: Option<String>,
    command: Option<Vec<String>>,
    url: Option<String>,
    requests_file: Option<PathBuf>,
    load_cmd: Option<String>,
    warmup: Option<u64>,
    rounds: Option<u32>,
    requests: Option<u64>,
    connections: Option<usize>,
    rate: Option<f64>,
    phase_timeout: Option<String>,
    cooldown: Option<String>,
    ready_timeout: Option<String>,
    health: Option<String>,
    runtime: Option<String>,
    pprof_url: Option<String>,
    capture_timeout: Option<String>,
    interval: Option<String>,
    min_growth: Option<String>,
    max_growth_per_round: Option<String>,
    max_bytes_per_request: Option<f64>,
    fail_on_inconclusive: Option<bool>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct ConfigToml {
    #[serde(default)]
    defaults: ScenarioToml,
    #[serde(default)]
    scenario: Vec<ScenarioToml>,
}

/// Thresholds a run must stay under.
#[derive(Clone, Debug, Default)]
struct Gate {
    max_growth_per_round: Option<u64>,
    max_bytes_per_request: Option<f64>,
    fail_on_inconclusive: bool,
}

macro_rules! pick {
    ($s:expr, $d:expr, $field:ident) => {
        $s.$field.clone().or_else(|| $d.$field.clone())
    };
}

fn scenario_config(
    s: &ScenarioToml,
    d: &ScenarioToml,
    index: usize,
    base: &Path,
    out_root: &Path,
    show_progress: bool,
) -> anyhow::Result<(ReproConfig, Gate)> {
    let name = pick!(s, d, name).unwrap_or_else(|| format!("scenario-{}", index + 1));
    let command = pick!(s, d, command)
        .filter(|c| !c.is_empty())
        .with_context(|| format!("scenario {name:?}: no `command`"))?;
    let duration = |field: &str, v: Option<String>, default: &str| -> anyhow::Result<Duration> {
        parse_duration(v.as_deref().unwrap_or(default))
            .map_err(|e| anyhow::anyhow!("scenario {name:?}: {field}: {e}"))
    };
    let bytes = |field: &str, v: Option<String>| -> anyhow::Result<Option<u64>> {
        v.map(|v| parse_bytes(&v).map_err(|e| anyhow::anyhow!("scenario {name:?}: {field}: {e}")))
            .transpose()
    };
    let runtime = match pick!(s, d, runtime).as_deref() {
        None => None,
        Some("node") => Some(Runtime::Node),
        Some("java") => Some(Runtime::Java),
        Some("python") => Some(Runtime::Python),
        Some("pprof") => Some(Runtime::Pprof),
        Some("none") => Some(Runtime::None),
        Some(other) => bail!(
            "scenario {name:?}: runtime {other:?}: expected node, java, python, pprof or none"
        ),
    };
    let url = pick!(s, d, url);
    let requests_file = pick!(s, d, requests_file).map(|f| base.join(f));
    let load_cmd = pick!(s, d, load_cmd);
    if url.is_none() && load_cmd.is_none() {
        bail!("scenario {name:?}: give `url` (and optionally `requests_file`) or `load_cmd`");
    }
    let config = ReproConfig {
        name: name.clone(),
        command,
        pid: None,
        url,
        requests_file,
        load_cmd,
        warmup: pick!(s, d, warmup).unwrap_or(500),
        rounds: pick!(s, d, rounds).unwrap_or(3),
        requests: pick!(s, d, requests).unwrap_or(2000),
        connections: pick!(s, d, connections).unwrap_or(8),
        rate: pick!(s, d, rate),
        phase_timeout: duration("phase_timeout", pick!(s, d, phase_timeout), "5m")?,
        cooldown: duration("cooldown", pick!(s, d, cooldown), "5s")?,
        ready_timeout: duration("ready_timeout", pick!(s, d, ready_timeout), "30s")?,
        health: pick!(s, d, health),
        runtime,
        pprof_url: pick!(s, d, pprof_url),
        capture_timeout: duration("capture_timeout", pick!(s, d, capture_timeout), "2m")?,
        out_dir: out_root.join(sanitize(&name)),
        interval: duration("interval", pick!(s, d, interval), "200ms")?,
        allow_remote: false,
        min_growth: bytes("min_growth", pick!(s, d, min_growth))?.unwrap_or(8192),
        show_progress,
    };
    let gate = Gate {
        max_growth_per_round: bytes("max_growth_per_round", pick!(s, d, max_growth_per_round))?,
        max_bytes_per_request: pick!(s, d, max_bytes_per_request),
        fail_on_inconclusive: pick!(s, d, fail_on_inconclusive).unwrap_or(false),
    };
    Ok((config, gate))
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Why a run fails the gate, if it does.
fn failures(run: &Value, gate: &Gate) -> Vec<String> {
    let mut out = Vec::new();
    match run["verdict"].as_str() {
        Some("leak") => out.push(format!("leak: {}", run["reason"].as_str().unwrap_or(""))),
        Some("inconclusive") if gate.fail_on_inconclusive => out.push(format!(
            "inconclusive: {}",
            run["reason"].as_str().unwrap_or("")
        )),
        _ => {}
    }
    let memory = &run["memory"];
    if let (Some(max), Some(per_round)) = (
        gate.max_growth_per_round,
        memory["growth_per_round_bytes"].as_i64(),
    ) {
        if per_round > max as i64 {
            out.push(format!(
                "memory grew {} per round, above max_growth_per_round {}",
                plateau_analysis::format_bytes(per_round as u64),
                plateau_analysis::format_bytes(max)
            ));
        }
    }
    if let (Some(max), Some(bpr)) = (
        gate.max_bytes_per_request,
        memory["bytes_per_request"].as_f64(),
    ) {
        if bpr > max {
            out.push(format!(
                "{bpr:.0} bytes per request, above max_bytes_per_request {max:.0}"
            ));
        }
    }
    out
}

pub fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let show_progress = !args.repro.no_progress && !args.repro.json;
    let out_root = args
        .repro
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("plateau-check"));
    let mut scenarios: Vec<(ReproConfig, Gate)> = Vec::new();
    if !args.repro.command.is_empty() {
        let mut config = ReproConfig::from_args(&args.repro)?;
        config.out_dir = out_root.clone();
        let gate = Gate {
            max_growth_per_round: args.max_growth_per_round,
            max_bytes_per_request: args.max_bytes_per_request,
            fail_on_inconclusive: args.fail_on_inconclusive,
        };
        scenarios.push((config, gate));
    } else {
        let path = args
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from("plateau.toml"));
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} (give scenarios in a plateau.toml, or a command after `--`)",
                path.display()
            )
        })?;
        let parsed: ConfigToml =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if parsed.scenario.is_empty() {
            bail!("{}: no [[scenario]]", path.display());
        }
        let base = path.parent().unwrap_or(Path::new("."));
        for (i, s) in parsed.scenario.iter().enumerate() {
            let (config, mut gate) =
                scenario_config(s, &parsed.defaults, i, base, &out_root, show_progress)?;
            gate.fail_on_inconclusive |= args.fail_on_inconclusive;
            if args.scenario.is_empty() || args.scenario.contains(&config.name) {
                scenarios.push((config, gate));
            }
        }
        if scenarios.is_empty() {
            bail!("{}: no scenario named {:?}", path.display(), args.scenario);
        }
    }

    let stop = install_stop_handler()?;
    let mut results = Vec::new();
    for (config, gate) in &scenarios {
        let started = std::time::Instant::now();
        let result = execute(config, &stop);
        let seconds = started.elapsed().as_secs_f64();
        let entry = match result {
            Ok(run) => {
                let failed = failures(&run, gate);
                json!({"name": config.name, "status": if failed.is_empty() { "passed" } else { "failed" }, "failures": failed, "seconds": seconds, "run": run})
            }
            Err(e) => {
                json!({"name": config.name, "status": "error", "error": format!("{e:#}"), "seconds": seconds})
            }
        };
        results.push(entry);
    }
    let failed = results.iter().filter(|r| r["status"] == "failed").count();
    let errors = results.iter().filter(|r| r["status"] == "error").count();
    let doc = json!({
        "schema_version": plateau_report::SCHEMA_VERSION,
        "tool": format!("plateau {}", env!("CARGO_PKG_VERSION")),
        "verdict": if failed > 0 { "leak" } else if errors > 0 { "error" } else { "no-leak" },
        "passed": results.len() - failed - errors,
        "failed": failed,
        "errors": errors,
        "scenarios": results,
    });
    if let Some(junit) = &args.junit {
        std::fs::write(junit, junit_xml(&doc))
            .with_context(|| format!("cannot write {}", junit.display()))?;
    }
    let mut out = std::io::stdout().lock();
    if args.repro.json {
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        for r in doc["scenarios"].as_array().into_iter().flatten() {
            let name = r["name"].as_str().unwrap_or("");
            match r["status"].as_str() {
                Some("passed") => writeln!(
                    out,
                    "PASS  {name}: {}",
                    r["run"]["reason"].as_str().unwrap_or("")
                )?,
                Some("failed") => {
                    writeln!(out, "FAIL  {name}")?;
                    for f in r["failures"].as_array().into_iter().flatten() {
                        writeln!(out, "      {}", f.as_str().unwrap_or(""))?;
                    }
                }
                _ => writeln!(out, "ERROR {name}: {}", r["error"].as_str().unwrap_or(""))?,
            }
        }
    }
    if errors > 0 && failed == 0 {
        bail!("{errors} scenario(s) could not run (see above)");
    }
    Ok(if failed > 0 {
        Outcome::LeakFound
    } else {
        Outcome::Fine
    })
}

fn xml(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => format!("&#x{:x};", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// JUnit XML: one test suite, one test case per scenario (failure = leak or threshold,
/// error = could not run).
fn junit_xml(doc: &Value) -> String {
    let scenarios = doc["scenarios"].as_array().cloned().unwrap_or_default();
    let total: f64 = scenarios.iter().filter_map(|r| r["seconds"].as_f64()).sum();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"plateau check\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{total:.3}\">\n",
        scenarios.len(),
        doc["failed"],
        doc["errors"]
    );
    for r in &scenarios {
        let name = xml(r["name"].as_str().unwrap_or(""));
        out.push_str(&format!(
            "  <testcase classname=\"plateau.memory\" name=\"{name}\" time=\"{:.3}\">\n",
            r["seconds"].as_f64().unwrap_or(0.0)
        ));
        match r["status"].as_str() {
            Some("failed") => {
                let failures: Vec<String> = r["failures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f.as_str().map(String::from))
                    .collect();
                out.push_str(&format!(
                    "    <failure message=\"{}\" type=\"memory-leak\">{}</failure>\n",
                    xml(failures.first().map_or("", String::as_str)),
                    xml(&failures.join("\n"))
                ));
            }
            Some("error") => out.push_str(&format!(
                "    <error message=\"{}\" type=\"error\"/>\n",
                xml(r["error"].as_str().unwrap_or(""))
            )),
            _ => {}
        }
        if let Some(reason) = r["run"]["reason"].as_str() {
            out.push_str(&format!("    <system-out>{}</system-out>\n", xml(reason)));
        }
        out.push_str("  </testcase>\n");
    }
    out.push_str("</testsuite>\n</testsuites>\n");
    out
}
